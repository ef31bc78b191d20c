import Foundation
import KilnDomain
import KilnWorker
import Logging

/// Retention done by the worker: with `worker.retention_days`, a batch of old runs is pruned
/// at most once a minute per process (spend is kept; see ``RunStore/prune(finalizedBefore:limit:deletingAfterFinalize:)``).
extension Poller {
    static let pruneBatch = 500
    static let pruneEverySeconds = 60.0

    /// Never throws: what is not pruned now is pruned a minute later.
    func pruneIfDue(now: Date, into result: inout PollPassResult) async {
        guard let days = environment.configuration.worker.retentionDays,
            environment.pruning.take(at: now, every: Self.pruneEverySeconds)
        else { return }
        do {
            result.pruned = try await environment.store.prune(
                finalizedBefore: now.addingTimeInterval(-days * 86_400), limit: Self.pruneBatch,
                deletingAfterFinalize: environment.configuration.provider.deleteAfterFinalize)
            if result.pruned > 0 { environment.logger.info("pruned \(result.pruned) runs past worker.retention_days") }
        } catch {
            environment.logger.warning("could not prune old runs", metadata: [LogKey.error: "\(error)"])
        }
    }
}
