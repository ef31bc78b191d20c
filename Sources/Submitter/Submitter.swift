import Foundation
import KilnDomain
import KilnWorker
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
    private let decision: SubmitDecision

    public init(environment: WorkerEnvironment) {
        self.environment = environment
        self.decision = SubmitDecision(
            settings: environment.configuration.submitter, limits: environment.configuration.limits, batch: environment.configuration.batch,
            batchLaneAvailable: environment.batchLane != nil)
    }

    private var settings: SubmitterSettings { environment.configuration.submitter }

    /// One pass over what is due by `dueBy` (default `now`).
    public func runOnce(now: Date, dueBy: Date? = nil) async throws -> SubmitPassResult {
        let result = try await pass(now: now, dueBy: dueBy)
        Telemetry.passCompleted("submitter", at: environment.clock.now())
        return result
    }

    private func pass(now: Date, dueBy: Date?) async throws -> SubmitPassResult {
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
            .submission, owner: owner, limit: settings.batchSize, leaseUntil: leaseUntil, now: dueBy ?? now, admission: admission)
        result.claimed = claimed.count + abandoned.count
        guard !claimed.isEmpty else { return result }
        let (batched, toSend) = try await joinBatches(claimed)
        for _ in 0..<batched { result.record(.batched) }
        for _ in 0..<(claimed.count - batched - toSend.count) { result.record(.lostLease) }
        let outcomes = try await withLeaseRenewal(
            store: store, ids: toSend.map(\.id), owner: owner, leaseSeconds: settings.leaseSeconds,
            logger: environment.logger
        ) {
            try await forEachToTheEnd(toSend, limit: settings.concurrency) { run in try await self.submit(run) }
        }
        for outcome in outcomes { result.record(outcome) }
        return result
    }

    /// The limits of `quotas`, and how a run about to be claimed is weighed against them: the
    /// most its request can cost (``GenerationRequest/maxCostMicros(at:)``), or exempt when it
    /// will not be sent (cancelled, past its deadline, invalid, a long document to cut).
    var admission: Admission {
        let environment = environment
        let decision = decision
        return Admission(quotas: environment.configuration.quotas) { run in
            switch decision.plan(
                for: run, policy: environment.policy(of: run), features: environment.features, now: environment.clock.now())
            {
            case .send(let request, _, let policy), .batch(let request, _, let policy):
                let price = environment.configuration.prices[policy.model]
                return Assessment(reservationMicros: price.map(request.maxCostMicros(at:)) ?? 0, overBudget: policy.overBudget)
            case .settle, .expand:
                return Assessment(reservationMicros: 0, exempt: true)
            }
        }
    }

    /// Sends one claimed run and records what happened: the I/O half of ``SubmitDecision``.
    func submit(_ run: Run) async throws -> SubmitOutcome {
        let clock = environment.clock
        let logger = environment.logger(for: run)
        if Task.isShuttingDownGracefully || Task.isCancelled {
            guard let update = RunUpdate.make(.release, on: run, at: clock.now(), actor: environment.owner) else { return .lostLease }
            return try await environment.store.saveDespiteCancellation(update, logger: environment.logger) ? .released : .lostLease
        }
        let generation: GenerationRequest
        let promptVersion: String
        let policy: RunPolicy
        switch decision.plan(for: run, policy: environment.policy(of: run), features: environment.features, now: clock.now()) {
        case .settle(let transition):
            if case .fail(let failure) = transition {
                logger.warning("run refused before submission", metadata: [LogKey.error: "\(failure.code)"])
            }
            return try await save(SubmitDecision.Verdict(transition), on: run)
        case .send(var request, let version, let resolved):
            request.promptCacheKey = environment.promptCacheKeys.key(feature: run.feature, promptVersion: version, now: clock.now())
            (generation, promptVersion, policy) = (request, version, resolved)
        case .expand(let document, let resolved):
            return try await expand(run, document: document, policy: resolved)
        case .batch(var request, let version, let resolved):
            // Only when no batch could take it (its line could not be built): at standard, now.
            request.fallbackFrom = .batch
            request.promptCacheKey = environment.promptCacheKeys.key(feature: run.feature, promptVersion: version, now: clock.now())
            (generation, promptVersion, policy) = (request, version, resolved)
        }
        try await environment.budget.acquire(inputTokens: generation.estimatedInputTokens)

        // The send mark: committed before the request leaves (with the lane it is sent on, when it fell back).
        var sendDetails: [String: JSONValue] = [:]
        if let from = generation.fallbackFrom {
            sendDetails = ["lane": "standard", "fallback_from": .string(from.rawValue)]
            logger.info(
                from == .flex
                    ? "flex capacity did not come in time: sent at standard"
                    : "a batch could not carry the run in time (or gave it back): sent at standard")
        }
        guard
            let marked = RunUpdate.make(
                .markSend(promptVersion: promptVersion, leaseUntil: clock.now().addingTimeInterval(settings.leaseSeconds)), on: run,
                at: clock.now(), actor: environment.owner, details: sendDetails),
            try await environment.persist(marked)
        else { return .lostLease }
        let sending = marked.run
        let request = ProviderRequest(
            generation: generation, metadata: ProviderRequest.metadata(run: run.id, attempt: sending.attempt))
        let verdict: SubmitDecision.Verdict
        do throws(ProviderError) {
            let response = try await environment.client.create(request)
            let estimate = await environment.estimates.estimate(feature: run.feature, model: policy.model)
            let firstPoll = PollSchedule(settings: environment.configuration.poller).firstPoll(
                at: clock.now(), estimate: estimate, window: policy.completionWindow, random: clock.random())
            logger.debug("submitted", metadata: [LogKey.responseID: "\(response.id)"])
            verdict = decision.accepted(response, firstPollAt: firstPoll)
        } catch {
            verdict = decision.after(error, sending: sending, policy: policy, now: clock.now(), random: clock.random())
            logger.info("create failed", metadata: [LogKey.error: "\(error.code)", LogKey.errorKind: "\(error.kind.rawValue)"])
        }
        if let pause = verdict.pauseSeconds { await environment.budget.pause(seconds: pause) }
        if verdict.kind == "quota_exhausted" {
            Telemetry.quotaExhausted()
            logger.error(
                "the provider says the account is out of quota: no run is sent for \(Int(verdict.pauseSeconds ?? 0)) s; add credit or raise the limit"
            )
        }
        return try await save(verdict, on: sending)
    }

    /// Moves the claimed runs of the batch lane into the gathering batch of their model, one
    /// store call per model; returns how many joined and the runs to send one by one.
    func joinBatches(_ claimed: [Run]) async throws -> (joined: Int, toSend: [Run]) {
        guard let lane = environment.batchLane else { return (0, claimed) }
        let now = environment.clock.now()
        var toSend: [Run] = []
        var entries: [String: [BatchEntry]] = [:]
        for run in claimed {
            guard
                case .batch(var request, let version, let policy) = decision.plan(
                    for: run, policy: environment.policy(of: run), features: environment.features, now: now)
            else {
                toSend.append(run)
                continue
            }
            // The line's size as it will be sent, its cache key (assigned at upload) at its longest.
            request.promptCacheKey = String(repeating: "k", count: 64)
            let provider = ProviderRequest(generation: request, metadata: ProviderRequest.metadata(run: run.id, attempt: run.attempt + 1))
            guard let line = try? lane.client.batchLine(customID: run.id.rawValue, request: provider) else {
                toSend.append(run)
                continue
            }
            entries[policy.model, default: []].append(BatchEntry(run: run, lineBytes: line.count, promptVersion: version))
        }
        var joined = 0
        for (model, group) in entries.sorted(by: { $0.key < $1.key }) {
            let ids = try await lane.store.join(
                group, model: model, owner: environment.owner, settings: environment.configuration.batch, now: now)
            joined += ids.count
            for entry in group where ids.contains(entry.run.id) {
                environment.logger(for: entry.run).debug("joined a batch", metadata: [LogKey.model: "\(model)"])
            }
        }
        return (joined, toSend)
    }

    /// Cuts a long document into its map children, written with the parent's move to
    /// `in_progress` in one transaction; a tree over its cost cap or size fails the parent.
    func expand(_ run: Run, document: DocumentSummary.Document, policy: RunPolicy) async throws -> SubmitOutcome {
        let configuration = environment.configuration
        let tree = DocumentTree(settings: configuration.documents, limits: configuration.limits, prices: configuration.prices)
        let now = environment.clock.now()
        let expansion: DocumentTree.Expansion
        do throws(KilnError) {
            expansion = try tree.expand(run, document: document, policy: policy, now: now)
        } catch {
            environment.logger(for: run).warning("document refused before it was cut", metadata: [LogKey.error: "\(error.code.rawValue)"])
            return try await save(
                SubmitDecision.Verdict(.fail(RunFailure(code: error.code.rawValue, message: error.message, source: .policy))), on: run)
        }
        let estimate = expansion.estimate
        var details: [String: JSONValue] = [
            "children": .number(Double(expansion.children.count)), "estimated_levels": .number(Double(estimate.levels + 1)),
            "estimated_input_tokens": .number(Double(estimate.inputTokens)),
            "estimated_output_tokens": .number(Double(estimate.outputTokens)),
            "deadline": .string(Timestamp.format(expansion.deadline)),
            // The final merge's shape, so the tree never reads the document again.
            "length": .string(document.length.rawValue),
        ]
        if let audience = document.audience { details["audience"] = .string(audience) }
        if let cost = estimate.costMicros { details["estimated_cost_micros"] = .number(Double(cost)) }
        guard
            let update = RunUpdate.make(
                .expand(nextCheckAt: now.addingTimeInterval(configuration.documents.checkSeconds)), on: run, at: now,
                actor: environment.owner, details: details),
            try await environment.store.insertChildren(expansion.children, parent: update)
        else { return .lostLease }
        environment.logger(for: run).info("document cut into \(expansion.children.count) children")
        return .expanded
    }

    /// A run found in `submitting` after its owner's lease expired.
    func recover(_ run: Run, now: Date) async throws -> SubmitOutcome {
        let policy = (try? environment.policy(of: run).get()) ?? environment.configuration.policy
        return try await save(decision.recover(run, policy: policy, now: now), on: run)
    }

    private func save(_ verdict: SubmitDecision.Verdict, on run: Run) async throws -> SubmitOutcome {
        guard
            let update = RunUpdate.make(
                verdict.transition, on: run, at: environment.clock.now(), actor: environment.owner, details: verdict.details,
                eventKind: verdict.eventKind)
        else { return .lostLease }
        if verdict.possibleDuplicate {
            Telemetry.possibleDuplicate(feature: run.feature)
            environment.logger(for: run).warning(
                "create may have reached the provider; possible duplicate",
                metadata: [LogKey.reason: "\(verdict.details["reason"]?.stringValue ?? "?")"])
        }
        guard try await environment.persist(update) else { return .lostLease }
        switch update.run.status {
        case .inProgress: return .accepted
        case .queued: return verdict.possibleDuplicate ? .resubmitting : (verdict.transition == .release ? .released : .requeued)
        case .failed: return verdict.possibleDuplicate ? .duplicateFailed : .failed
        case .cancelled: return .cancelled
        case .timedOut: return .timedOut
        case .submitting, .completed, .incomplete: return .released
        }
    }
}
