import Foundation
import GRDB
import Synchronization

/// Notices writes that other connections commit to a SQLite file — another process's
/// insert or cancel, the worker's own writes too — by reading `PRAGMA data_version` on a
/// connection of its own every `interval`. The pragma is one integer from the connection's
/// shared-memory view: no table is read while nothing changes, so an idle worker spends next
/// to nothing on it.
///
/// `next()` returns when the version moved, nil when cancelled; it runs in the caller's task
/// (``SQLiteRunStore/changes()`` is an `AsyncStream(unfolding:)` over it), so it ends with
/// whatever consumes it.
final class DataVersionWatcher: Sendable {
    private let connection: DatabaseQueue
    private let interval: Duration
    private let seen = Mutex<Int?>(nil)

    init(path: String, interval: Duration) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.label = "kiln.data-version"
        connection = try DatabaseQueue(path: path, configuration: configuration)
        self.interval = interval
    }

    /// Waits for the next change; nil when the task is cancelled.
    func next() async -> Void? {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return nil
            }
            // A read that fails (the file busy being checkpointed, say) is simply tried again.
            guard let version = try? await connection.read({ db in try Int.fetchOne(db, sql: "PRAGMA data_version") }) else { continue }
            let changed = seen.withLock { seen -> Bool in
                defer { seen = version }
                return seen.map { $0 != version } ?? false
            }
            if changed { return () }
        }
        return nil
    }
}
