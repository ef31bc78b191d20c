import Foundation
import KilnDomain
import KilnWorker
import Logging
import ServiceLifecycle

/// Resumes in-flight runs: retrieves each one whose poll is due, then schedules the next
/// poll or finalizes the run; carries out cancellation requests and deadlines.
///
/// One pass (``runOnce(now:dueBy:)``) is what the daemon loop, `--once` and the tests call.
/// A retrieve error never finalizes a run by itself: it backs off and tries again (a 404
/// is the exception: the provider no longer has the response).
public struct Poller: Sendable {
    public let environment: WorkerEnvironment
    private var decision: PollDecision

    public init(environment: WorkerEnvironment) {
        self.environment = environment
        self.decision = PollDecision(
            settings: environment.configuration.poller, prices: environment.configuration.prices, features: environment.features,
            pricing: environment.configuration.pricing)
        decision.quotaPauseSeconds = environment.configuration.submitter.quotaPauseSeconds
    }

    var settings: PollerSettings { environment.configuration.poller }

    public func runOnce(now: Date, dueBy: Date? = nil) async throws -> PollPassResult {
        var result = try await pollDue(now: now, dueBy: dueBy)
        try await stepTrees(now: environment.clock.now(), dueBy: dueBy, into: &result)
        try await stepBatches(now: environment.clock.now(), dueBy: dueBy, into: &result)
        // After the batch (whose leases are renewed while it runs), never instead of it.
        if settings.webhooksEnabled { await lookAtUnmatchedWebhooks(now: environment.clock.now(), into: &result) }
        await deleteStoredResponses(now: dueBy ?? environment.clock.now(), into: &result)
        await pruneIfDue(now: dueBy ?? environment.clock.now(), into: &result)
        Telemetry.passCompleted("poller", at: environment.clock.now())
        return result
    }

    private func pollDue(now: Date, dueBy: Date?) async throws -> PollPassResult {
        var result = PollPassResult()
        let claimed = try await environment.store.claim(
            .poll, owner: environment.owner, limit: settings.batchSize,
            leaseUntil: now.addingTimeInterval(settings.leaseSeconds), now: dueBy ?? now)
        result.claimed = claimed.count
        guard !claimed.isEmpty else { return result }
        let outcomes = try await withLeaseRenewal(
            store: environment.store, ids: claimed.map(\.id), owner: environment.owner,
            leaseSeconds: settings.leaseSeconds, logger: environment.logger
        ) {
            try await forEachToTheEnd(claimed, limit: settings.concurrency) { run in try await self.poll(run) }
        }
        for outcome in outcomes { result.record(outcome) }
        return result
    }

    /// Polls (or cancels) one leased run and records what the provider said: the I/O half
    /// of ``PollDecision``.
    func poll(_ run: Run) async throws -> PollOutcome {
        let clock = environment.clock
        if Task.isShuttingDownGracefully || Task.isCancelled {
            guard let update = RunUpdate.make(.release, on: run, at: clock.now(), actor: environment.owner) else { return .lostLease }
            return try await environment.store.saveDespiteCancellation(update, logger: environment.logger) ? .released : .lostLease
        }
        let logger = environment.logger(for: run)
        let policy = environment.policy(of: run)
        let call = decision.call(for: run, policy: policy, now: clock.now())
        let target: (id: ResponseID, cancel: Bool)
        switch call {
        case .none(let transition): return try await save(PollDecision.Verdict(transition), on: run)
        case .retrieve(let id): target = (id, false)
        case .cancel(let id, _): target = (id, true)
        }
        let verdict: PollDecision.Verdict
        do throws(ProviderError) {
            let client = environment.client
            let response = target.cancel ? try await client.cancel(target.id) : try await client.retrieve(target.id)
            if case .cancel(_, let reason) = call { logger.info("cancelled at the provider", metadata: [LogKey.reason: "\(reason)"]) }
            verdict = decision.after(
                call, response: response, run: run, policy: policy, now: clock.now(), random: clock.random())
        } catch {
            logger.info("provider call failed", metadata: [LogKey.error: "\(error.code)"])
            verdict = decision.after(call, error: error, run: run, policy: policy, now: clock.now(), random: clock.random())
        }
        if let pause = verdict.pauseSeconds { await environment.budget.pause(seconds: pause) }
        if case .requeueAfterQuota = verdict.transition {
            Telemetry.quotaExhausted()
            logger.error(
                "the provider failed a response for quota: no run is sent for \(Int(verdict.pauseSeconds ?? 0)) s; add credit or raise the limit"
            )
        }
        return try await save(verdict, on: run)
    }

    private func save(_ verdict: PollDecision.Verdict, on run: Run) async throws -> PollOutcome {
        let next = verdict.transition
        guard let update = RunUpdate.make(next, on: run, at: environment.clock.now(), actor: environment.owner, details: verdict.details)
        else { return .lostLease }
        guard try await environment.persist(update) else { return .lostLease }
        if update.run.status.isTerminal { return .finalized(update.run.status) }
        return verdict.callFailed ? .retrieveFailed : .rescheduled
    }
}
