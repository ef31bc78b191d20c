import Foundation
import KilnDomain
import KilnWorker
import Logging

/// Webhook deliveries whose response no in-flight run held when they came: the early
/// webhook (it beat the create's answer), the crash-window duplicate, another app's response.
/// The poller retrieves each response and lets ``WebhookMatch`` say what it means.
extension Poller {
    /// At most this many deliveries per pass; each costs one retrieve.
    static let webhookBatch = 20
    /// A delivery still not settled after this long is given up (its run is polled anyway).
    static let webhookGiveUpSeconds = 3600.0

    func lookAtUnmatchedWebhooks(now: Date, into result: inout PollPassResult) async throws {
        let store = environment.store
        let deliveries = try await store.claimUnmatchedWebhooks(
            owner: environment.owner, limit: Self.webhookBatch, leaseUntil: now.addingTimeInterval(30), now: now)
        for delivery in deliveries {
            result.webhooksLookedAt += 1
            switch try await settle(delivery) {
            case .settled: try await store.markWebhookHandled(delivery.webhookID, now: environment.clock.now())
            case .adopted:
                result.adopted += 1
                try await store.markWebhookHandled(delivery.webhookID, now: environment.clock.now())
            case .orphan:
                result.orphans += 1
                try await store.markWebhookHandled(delivery.webhookID, now: environment.clock.now())
            case .later:
                if now.timeIntervalSince(delivery.receivedAt) > Self.webhookGiveUpSeconds {
                    try await store.markWebhookHandled(delivery.webhookID, now: environment.clock.now())
                }
            }
        }
    }

    private enum Settlement { case settled, adopted, orphan, later }

    private func settle(_ delivery: WebhookDelivery) async throws -> Settlement {
        let clock = environment.clock
        var logger = environment.logger
        logger[metadataKey: LogKey.webhookID] = "\(delivery.webhookID)"
        guard let responseID = delivery.responseID else { return .settled }
        logger[metadataKey: LogKey.responseID] = "\(responseID)"
        if try await environment.store.makeDue(response: responseID, now: clock.now()) != nil { return .settled }
        let response: ProviderResponse
        do throws(ProviderError) {
            response = try await environment.client.retrieve(responseID)
        } catch {
            // Not found: a dashboard test event or another app's response, gone or never Kiln's.
            if error.kind == .notFound { return .settled }
            logger.info("retrieve of a webhook's response failed", metadata: [LogKey.error: "\(error.code)"])
            return .later
        }
        let run = try await response.metadata["kiln_run_id"].asyncFlatMap { try await environment.store.run(RunID($0), tenant: nil) }
        let policy = run.flatMap { try? environment.policy(of: $0).get() }
        switch WebhookMatch.decide(
            response, run: run, policy: policy, prices: environment.configuration.prices, actor: environment.owner, now: clock.now())
        {
        case .makeDue:
            _ = try await environment.store.makeDue(response: responseID, now: clock.now())
            return .settled
        case .adopt(let update):
            guard try await environment.persist(update) else { return .later }  // the run moved: look again
            logger.info("run took the response a webhook announced", metadata: [LogKey.runID: "\(update.run.id)"])
            return .adopted
        case .orphan(let orphan):
            if try await environment.store.recordOrphan(orphan) {
                logger.warning(
                    "orphan response: the provider ran a response the run does not use",
                    metadata: [LogKey.runID: "\(orphan.runID)", LogKey.status: "\(orphan.providerStatus)"])
            }
            return .orphan
        case .none:
            return run == nil || response.status.isTerminal ? .settled : .later
        }
    }
}

extension Optional {
    fileprivate func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
