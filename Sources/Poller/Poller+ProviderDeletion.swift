import Foundation
import KilnDomain
import KilnWorker
import Logging

/// The provider's copies: a finished run's stored response is deleted once Kiln holds its
/// result (`provider.delete_after_finalize`) or once the run was erased. A failed deletion is
/// tried again with back-off and reported; it never holds up a run.
extension Poller {
    /// Never throws: what cannot be deleted now is due again later.
    func deleteStoredResponses(now: Date, into result: inout PollPassResult) async {
        let deletions: [ProviderDeletion]
        do {
            deletions = try await environment.store.claimProviderDeletions(
                afterFinalize: environment.configuration.provider.deleteAfterFinalize, limit: settings.batchSize, now: now,
                leaseUntil: now.addingTimeInterval(settings.leaseSeconds))
        } catch {
            environment.logger.warning("could not claim provider deletions", metadata: [LogKey.error: "\(error)"])
            return
        }
        guard !deletions.isEmpty else { return }
        let outcomes =
            (try? await forEachToTheEnd(deletions, limit: settings.concurrency) { deletion in await self.delete(deletion) }) ?? []
        result.providerDeletes += outcomes.filter { $0 }.count
        result.providerDeleteFailures += outcomes.filter { !$0 }.count
    }

    /// One deletion; true when the response is gone (deleted now, or already).
    private func delete(_ deletion: ProviderDeletion) async -> Bool {
        let clock = environment.clock
        var deleted = true
        var retryAt: Date?
        do throws(ProviderError) {
            try await environment.client.delete(deletion.responseID)
        } catch {
            if error.kind != .notFound {
                deleted = false
                retryAt = deletion.retryAt(after: clock.now())
                environment.logger.warning(
                    retryAt == nil
                        ? "gave up deleting a stored response at the provider" : "could not delete a stored response at the provider",
                    metadata: [
                        LogKey.runID: "\(deletion.runID)", LogKey.responseID: "\(deletion.responseID)", LogKey.error: "\(error.code)",
                    ])
            }
        }
        do {
            try await environment.store.recordProviderDeletion(deletion.runID, deleted: deleted, retryAt: retryAt, now: clock.now())
        } catch {
            environment.logger.warning("could not record a provider deletion", metadata: [LogKey.runID: "\(deletion.runID)"])
        }
        return deleted
    }
}
