import Foundation
import KilnDomain
import PostgresNIO

/// Every operation bounded in time, and its errors as ``KilnError``s that name what failed
/// (never SQL or data) and say whether a retry may outlast them.
extension PostgresRunStore {
    /// Runs database work within the pool's operation timeout and names what failed, without
    /// SQL or data in the message.
    func perform<T: Sendable>(_ what: String, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            guard let value = try await pool.bounded(work) else {
                throw KilnError(
                    .databaseUnavailable, "could not \(what): PostgreSQL did not answer within \(pool.operationTimeout); reconnecting")
            }
            return value
        } catch let error as PostgresTransactionError {
            // What the transaction's body (or its BEGIN/COMMIT) threw — a refusal of Kiln's own, a server error — not the wrapper.
            throw Self.named(error.closureError ?? error.beginError ?? error.commitError ?? error, doing: what)
        } catch {
            throw Self.named(error, doing: what)
        }
    }

    /// `error` as a ``KilnError`` that names what failed.
    static func named(_ error: any Error, doing what: String) -> KilnError {
        switch error {
        case let error as KilnError:
            return error
        case let error as PSQLError:
            let message = error.serverInfo?[.message] ?? "\(error.code)"
            let state = error.serverInfo?[.sqlState]
            if state == SQLState.contractRefused, message.hasPrefix("kiln: ") {
                // A contract trigger refused the write (a review on a run that is not completed, …).
                return KilnError(.conflict, "could not \(what): \(message.dropFirst(6))")
            }
            let transient = state.map(SQLState.isTransient) ?? Self.transientClientCodes.contains(error.code)
            let code: KilnError.Code = transient ? .databaseUnavailable : .database
            return KilnError(code, "could not \(what): PostgreSQL\(state.map { " \($0)" } ?? ""): \(message)")
        case let error as PostgresDecodingError:
            return KilnError(.database, "could not \(what): unreadable column \(error.columnName) (\(error.postgresType))")
        default:
            // Not the server's answer: the connection closed, failed or timed out.
            return KilnError(.databaseUnavailable, "could not \(what): \(String(describing: error).prefix(200))")
        }
    }

    /// Failures of postgres-nio's own (no answer from the server) that a later try may not
    /// meet: the connection was lost, refused, closed or the pool shut. Others (a message it
    /// cannot decode, too many parameters, an unsupported login) would only repeat.
    static let transientClientCodes: [PSQLError.Code] = [
        .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed, .queryCancelled,
    ]
}
