import Foundation
import GRDB
import KilnDomain

/// Database errors as ``KilnError``s that name what failed, and which of them a retry may outlast.
extension SQLiteRunStore {
    /// Why the database's folder cannot be written, when that is the cause: a WAL database
    /// needs its folder writable even to read (it creates `-wal` and `-shm` files).
    static func unwritableFolder(of path: String) -> String? {
        let folder = (path as NSString).deletingLastPathComponent
        guard access(folder.isEmpty ? "." : folder, W_OK) != 0 else { return nil }
        switch errno {
        case EROFS: return "the file system is read-only"
        case EACCES, EPERM: return "no permission to write in \(folder.isEmpty ? "." : folder)"
        default: return nil
        }
    }

    /// Runs database work (on GRDB's own queues; the task suspends) and names what failed.
    func perform<T: Sendable>(_ what: String, _ work: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as KilnError {
            throw error
        } catch {
            throw Self.translate(error, doing: what)
        }
    }

    /// Errors that say the database did not answer this time (locked past the busy timeout,
    /// full, read-only, an I/O error), not that the request was wrong.
    static let transientCodes: [ResultCode] = [
        .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_IOERR, .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL,
        .SQLITE_NOMEM,
    ]

    /// A database error as a ``KilnError``: SQLite's own message, never the SQL or its arguments.
    static func translate(_ error: any Error, doing what: String) -> KilnError {
        if let error = error as? DatabaseError, let message = error.message, message.hasPrefix("kiln: ") {
            // A contract trigger refused the write (a review on a run that is not completed, …).
            return KilnError(.conflict, "could not \(what): \(message.dropFirst(6))")
        }
        if let error = error as? DatabaseError {
            let code: KilnError.Code = transientCodes.contains(error.resultCode) ? .databaseUnavailable : .database
            return KilnError(code, "could not \(what): SQLite error \(error.resultCode.rawValue): \(error.message ?? "unknown")")
        }
        return KilnError(.database, "could not \(what): \(error)")
    }
}
