import Foundation
import KilnDomain
import Logging
import ServiceLifecycle

/// Sends due `queued` runs to the provider in background mode and records the response id.
///
/// One pass (``runOnce(now:dueBy:)``) is what the daemon loop, `--once` and the tests call:
/// recover submissions a dead process left behind, claim a batch under a lease, and send it
/// with bounded concurrency inside the shared request budget. Before a request leaves, the
/// run records `attempt + 1` and its send mark, so a crash between "the provider accepted"
/// and "the id is stored" is visible on recovery and never a silent duplicate.
public struct Submitter: Sendable {
    public let environment: WorkerEnvironment

    public init(environment: WorkerEnvironment) {
        self.environment = environment
    }

    private var settings: SubmitterSettings { environment.configuration.submitter }

    /// One pass over what is due by `dueBy` (default `now`).
    public func runOnce(now: Date, dueBy: Date? = nil) async throws -> SubmitPassResult {
        var result = SubmitPassResult()
        let store = environment.store
        let owner = environment.owner
        let leaseUntil = now.addingTimeInterval(settings.leaseSeconds)

        // Runs a dead process left in `submitting`.
        let abandoned = try await store.claim(
            .abandonedSubmission, owner: owner, limit: settings.batchSize, leaseUntil: leaseUntil, now: dueBy ?? now)
        for outcome in try await forEachToTheEnd(abandoned, limit: settings.concurrency, { run in try await self.recover(run, now: now) }) {
            result.record(outcome)
        }

        let claimed = try await store.claim(
            .submission, owner: owner, limit: settings.batchSize, leaseUntil: leaseUntil, now: dueBy ?? now)
        result.claimed = claimed.count + abandoned.count
        guard !claimed.isEmpty else { return result }
        let outcomes = try await withLeaseRenewal(
            store: store, ids: claimed.map(\.id), owner: owner, leaseSeconds: settings.leaseSeconds,
            logger: environment.logger
        ) {
            try await forEachToTheEnd(claimed, limit: settings.concurrency) { run in try await self.submit(run) }
        }
        for outcome in outcomes { result.record(outcome) }
        return result
    }

    /// Sends one claimed run and records what happened.
    func submit(_ run: Run) async throws -> SubmitOutcome {
        let logger = environment.logger(for: run)
        if Task.isShuttingDownGracefully || Task.isCancelled {
            guard let update = RunUpdate.make(.release, on: run, at: Date(), actor: environment.owner) else { return .lostLease }
            return try await environment.store.saveDespiteCancellation(update, logger: environment.logger) ? .released : .lostLease
        }
        if run.cancelRequestedAt != nil {
            return try await save(.cancelBeforeSubmission, on: run, now: Date(), outcome: .cancelled)
        }
        let policy: RunPolicy
        let generation: GenerationRequest
        let promptVersion: String
        do {
            policy = try environment.policy(of: run)
            let feature = try environment.features.feature(named: run.feature)
            try feature.validate(input: run.input, limits: environment.configuration.limits)
            generation = try feature.request(for: run.input, policy: policy)
            promptVersion = feature.promptVersion
        } catch {
            let failure = RunFailure(code: error.code.rawValue, message: error.message, source: .policy)
            logger.warning("run refused before submission", metadata: [LogKey.error: "\(failure.code)"])
            return try await save(.fail(failure), on: run, now: Date(), outcome: .failed)
        }
        if Date() >= run.deadline(policy) {
            return try await save(.timeOut(providerStatus: nil), on: run, now: Date(), outcome: .timedOut)
        }
        try await environment.budget.acquire()

        // The send mark: committed before the request leaves.
        guard let marked = RunUpdate.make(.markSend(promptVersion: promptVersion), on: run, at: Date(), actor: environment.owner),
            try await environment.persist(marked)
        else { return .lostLease }
        let sending = marked.run
        let request = ProviderRequest(
            generation: generation, metadata: ProviderRequest.metadata(run: run.id, attempt: sending.attempt))
        let response: ProviderResponse
        do {
            response = try await environment.client.create(request)
        } catch {
            return try await handle(error, sending: sending, policy: policy, logger: logger)
        }
        let now = Date()
        let estimate = await environment.estimates.estimate(feature: run.feature, model: policy.model)
        let firstPoll = PollSchedule(settings: environment.configuration.poller).firstPoll(
            at: now, estimate: estimate, window: policy.completionWindow, random: .random(in: 0..<1))
        logger.debug("submitted", metadata: [LogKey.responseID: "\(response.id)"])
        return try await save(
            .accept(responseID: response.id, providerStatus: response.status.rawValue, firstPollAt: firstPoll),
            on: sending, now: now, outcome: .accepted)
    }

    private func handle(_ error: ProviderError, sending: Run, policy: RunPolicy, logger: Logger) async throws -> SubmitOutcome {
        let now = Date()
        let attemptsLeft = sending.attempt < policy.maxAttempts
        switch error.kind {
        case .rateLimited:
            let wait = error.retryAfter ?? settings.retryBaseSeconds
            await environment.budget.pause(seconds: wait)
            logger.info("provider rate limit; pausing submissions", metadata: ["wait_seconds": "\(wait)"])
            return try await save(
                .requeue(availableAt: now.addingTimeInterval(wait), lastError: error.failure, refundAttempt: true),
                on: sending, now: now, outcome: .requeued)
        case .retryable where attemptsLeft:
            let backoff = min(settings.retryMaxSeconds, settings.retryBaseSeconds * pow(2, Double(sending.attempt - 1)))
            let wait = max(error.retryAfter ?? 0, backoff * (0.5 + 0.5 * Double.random(in: 0..<1)))
            logger.info("retryable provider error; will retry", metadata: [LogKey.error: "\(error.code)"])
            return try await save(
                .requeue(availableAt: now.addingTimeInterval(wait), lastError: error.failure), on: sending, now: now,
                outcome: .requeued)
        case .ambiguous:
            return try await ambiguous(sending, policy: policy, reason: error.code, now: now, logger: logger)
        case .retryable, .permanent, .notFound:
            logger.warning("submission failed", metadata: [LogKey.error: "\(error.code)"])
            var failure = error.failure
            if error.kind == .retryable { failure.message = "attempts exhausted (\(sending.attempt)): " + failure.message }
            return try await save(.fail(failure), on: sending, now: now, outcome: .failed)
        }
    }

    /// A create that may have reached the provider: resubmit or fail, by policy, and
    /// always record a `possible_duplicate` event.
    private func ambiguous(_ run: Run, policy: RunPolicy, reason: String, now: Date, logger: Logger) async throws -> SubmitOutcome {
        let details: [String: JSONValue] = ["reason": .string(reason), "policy": .string(settings.ambiguousSend.rawValue)]
        logger.warning("create may have reached the provider; possible duplicate", metadata: ["reason": "\(reason)"])
        let transition: RunTransition
        let outcome: SubmitOutcome
        if settings.ambiguousSend == .resubmit, run.attempt < policy.maxAttempts {
            transition = .requeue(
                availableAt: now.addingTimeInterval(settings.retryBaseSeconds),
                lastError: RunFailure(code: "possible_duplicate", message: "the create may have reached the provider (\(reason))", source: .kiln))
            outcome = .resubmitting
        } else {
            transition = .fail(RunFailure(
                code: "possible_duplicate", message: "the create may have reached the provider (\(reason)); not resubmitted",
                source: .kiln))
            outcome = .duplicateFailed
        }
        guard var update = RunUpdate.make(transition, on: run, at: now, actor: environment.owner, details: details) else {
            return .lostLease
        }
        update.event?.kind = "possible_duplicate"
        return try await environment.persist(update) ? outcome : .lostLease
    }

    /// A run found in `submitting` after its owner's lease expired.
    func recover(_ run: Run, now: Date) async throws -> SubmitOutcome {
        guard run.sendStartedAt != nil, run.responseID == nil else {
            return try await save(.release, on: run, now: now, outcome: .released)
        }
        let policy = (try? environment.policy(of: run)) ?? environment.configuration.policy
        return try await ambiguous(run, policy: policy, reason: "process_lost_after_send", now: now, logger: environment.logger(for: run))
    }

    private func save(_ transition: RunTransition, on run: Run, now: Date, outcome: SubmitOutcome) async throws -> SubmitOutcome {
        guard let update = RunUpdate.make(transition, on: run, at: now, actor: environment.owner) else { return .lostLease }
        return try await environment.persist(update) ? outcome : .lostLease
    }
}
