import Foundation
import KilnDomain
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
    private let schedule: PollSchedule

    public init(environment: WorkerEnvironment) {
        self.environment = environment
        self.schedule = PollSchedule(settings: environment.configuration.poller)
    }

    private var settings: PollerSettings { environment.configuration.poller }

    public func runOnce(now: Date, dueBy: Date? = nil) async throws -> PollPassResult {
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

    /// Polls (or cancels) one leased run and records what the provider said.
    func poll(_ run: Run) async throws -> PollOutcome {
        guard let responseID = run.responseID else {
            let failure = RunFailure(code: "missing_response_id", message: "an in-flight run has no response id", source: .kiln)
            return try await save(.fail(failure), on: run, outcome: .finalized(.failed))
        }
        if Task.isShuttingDownGracefully || Task.isCancelled {
            guard let update = RunUpdate.make(.release, on: run, at: Date(), actor: environment.owner) else { return .lostLease }
            return try await environment.store.saveDespiteCancellation(update, logger: environment.logger) ? .released : .lostLease
        }
        let logger = environment.logger(for: run)
        let policy = (try? environment.policy(of: run)) ?? environment.configuration.policy
        let deadlinePassed = Date() >= run.deadline(policy)
        let response: ProviderResponse
        do {
            if run.cancelRequestedAt != nil || deadlinePassed {
                // Cancel is best effort: record whatever terminal state the provider reports.
                response = try await environment.client.cancel(responseID)
                logger.info(deadlinePassed ? "deadline passed; cancelled at the provider" : "cancelled at the provider")
            } else {
                response = try await environment.client.retrieve(responseID)
            }
        } catch {
            return try await handle(error, run: run, logger: logger)
        }
        let now = Date()
        if response.status.isTerminal {
            if deadlinePassed, run.cancelRequestedAt == nil, response.status == .cancelled {
                return try await save(.timeOut(providerStatus: response.status.rawValue), on: run, outcome: .finalized(.timedOut))
            }
            let outcome = Finalization.outcome(of: response, run: run, policy: policy, prices: environment.configuration.prices, now: now)
            logger.debug("finalized", metadata: ["status": "\(outcome.status.rawValue)"])
            return try await save(.finish(outcome), on: run, outcome: .finalized(outcome.status))
        }
        if deadlinePassed, run.cancelRequestedAt == nil {
            // The provider did not stop it (yet): the deadline is Kiln's to enforce.
            return try await save(.timeOut(providerStatus: response.status.rawValue), on: run, outcome: .finalized(.timedOut))
        }
        var next = schedule.nextPoll(
            submittedAt: run.submittedAt ?? run.createdAt, now: now, providerStatus: response.status,
            window: policy.completionWindow, random: .random(in: 0..<1))
        next = min(next, max(now.addingTimeInterval(settings.minIntervalSeconds), run.deadline(policy)))
        return try await save(.schedulePoll(providerStatus: response.status.rawValue, nextPollAt: next), on: run, outcome: .rescheduled)
    }

    private func handle(_ error: ProviderError, run: Run, logger: Logger) async throws -> PollOutcome {
        let now = Date()
        if error.kind == .notFound {
            logger.warning("the provider no longer has the response")
            let failure = RunFailure(
                code: "response_not_found", message: "the provider answered 404 for \(run.responseID?.rawValue ?? "?")", source: .provider)
            return try await save(.fail(failure), on: run, outcome: .finalized(.failed))
        }
        if error.kind == .rateLimited {
            await environment.budget.pause(seconds: error.retryAfter ?? settings.minIntervalSeconds)
        }
        logger.info("retrieve failed; will poll again", metadata: [LogKey.error: "\(error.code)"])
        // The geometric schedule backs off by itself (intervals grow with the run's age);
        // a wait the provider asked for comes on top.
        let policy = (try? environment.policy(of: run)) ?? environment.configuration.policy
        let scheduled = schedule.nextPoll(
            submittedAt: run.submittedAt ?? run.createdAt, now: now,
            providerStatus: ProviderResponse.Status(run.providerStatus ?? "in_progress"), window: policy.completionWindow,
            random: .random(in: 0..<1))
        let next = max(scheduled, now.addingTimeInterval(error.retryAfter ?? 0))
        return try await save(
            .schedulePoll(providerStatus: run.providerStatus ?? "unknown", nextPollAt: next), on: run, outcome: .retrieveFailed)
    }

    private func save(_ transition: RunTransition, on run: Run, outcome: PollOutcome) async throws -> PollOutcome {
        guard let update = RunUpdate.make(transition, on: run, at: Date(), actor: environment.owner) else { return .lostLease }
        return try await environment.persist(update) ? outcome : .lostLease
    }
}
