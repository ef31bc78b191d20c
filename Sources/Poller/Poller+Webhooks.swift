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
    /// How long a claimed delivery is this poller's; each one costs at most one retrieve.
    static let webhookClaimSeconds = 120.0

    /// Never throws: a delivery that cannot be settled now is looked at again when its
    /// claim runs out, and the runs of this pass are already polled.
    func lookAtUnmatchedWebhooks(now: Date, into result: inout PollPassResult) async {
        let deliveries: [WebhookDelivery]
        do {
            deliveries = try await environment.store.claimUnmatchedWebhooks(
                owner: environment.owner, limit: Self.webhookBatch, leaseUntil: now.addingTimeInterval(Self.webhookClaimSeconds),
                now: now)
        } catch {
            environment.logger.warning("could not claim webhook deliveries", metadata: [LogKey.error: "\(error)"])
            return
        }
        for delivery in deliveries {
            result.webhooksLookedAt += 1
            do {
                try await look(at: delivery, now: now, into: &result)
            } catch {
                environment.logger.warning(
                    "could not settle a webhook delivery", metadata: [LogKey.webhookID: "\(delivery.webhookID)", LogKey.error: "\(error)"])
            }
        }
    }

    private func look(at delivery: WebhookDelivery, now: Date, into result: inout PollPassResult) async throws {
        let settlement = try await settle(delivery)
        switch settlement {
        case .adopted: result.adopted += 1
        case .orphan: result.orphans += 1
        case .settled, .later: break
        }
        if settlement != .later || now.timeIntervalSince(delivery.receivedAt) > Self.webhookGiveUpSeconds {
            try await environment.store.markWebhookHandled(delivery.webhookID, now: environment.clock.now())
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
            response, run: run, policy: policy, prices: environment.configuration.prices, pricing: environment.configuration.pricing,
            actor: environment.owner, now: clock.now())
        {
        case .makeDue:
            // Nil while a poll holds the run's lease: nudge it again once that poll is written.
            return try await environment.store.makeDue(response: responseID, now: clock.now()) != nil ? .settled : .later
        case .adopt(let update):
            guard try await environment.persist(update) else {
                // The run moved: most likely its sender stored this very response just now.
                return try await environment.store.makeDue(response: responseID, now: clock.now()) != nil ? .settled : .later
            }
            logger.info("run took the response a webhook announced", metadata: [LogKey.runID: "\(update.run.id)"])
            return .adopted
        case .orphan(let orphan):
            if try await environment.store.recordOrphan(orphan) {
                Telemetry.orphanResponse()
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
