import Foundation
import KilnDomain
import Logging

/// Keeps the leases of `ids` alive while `body` runs, renewing every third of the lease; a
/// renewal the database did not answer is tried again after a second (or sooner, for short
/// leases), not a third of a lease later.
public func withLeaseRenewal<T: Sendable>(
    store: any RunStore, ids: [RunID], owner: String, leaseSeconds: Double, logger: Logger,
    _ body: @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            let interval = leaseSeconds / 3
            var pause = interval
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(pause * 1000)))
                if Task.isCancelled { break }
                do {
                    _ = try await store.renewLeases(ids, owner: owner, until: Date().addingTimeInterval(leaseSeconds))
                    pause = interval
                } catch {
                    pause = min(interval, 1)
                    logger.warning(
                        "could not renew leases; retrying", metadata: [LogKey.error: "\(error)", LogKey.retryInSeconds: "\(pause)"])
                }
            }
            return nil
        }
        let result = try await body()
        group.cancelAll()
        return result
    }
}
