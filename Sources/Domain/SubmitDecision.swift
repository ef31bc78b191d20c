import Foundation

/// What the submitter does with a leased run, as pure functions: whether to send it, then
/// which transition follows from the provider's answer or error, and what to do with a
/// submission a dead process left behind. The submitter performs the calls and writes the
/// transitions; nothing here reads a clock, randomness or the database.
public struct SubmitDecision: Sendable {
    public var settings: SubmitterSettings
    public var limits: InputLimits
    public var batch: BatchSettings
    /// Whether this process can carry the batch lane (a store and a provider client that
    /// support it); without it, batch runs are sent at standard.
    public var batchLaneAvailable: Bool

    public init(settings: SubmitterSettings, limits: InputLimits, batch: BatchSettings = BatchSettings(), batchLaneAvailable: Bool = false)
    {
        self.settings = settings
        self.limits = limits
        self.batch = batch
        self.batchLaneAvailable = batchLaneAvailable
    }

    /// Before anything leaves.
    public enum Plan: Sendable, Hashable {
        /// Send this request; write the send mark (with the prompt version) first.
        case send(GenerationRequest, promptVersion: String, policy: RunPolicy)
        /// No call: this transition finishes the run or hands it back.
        case settle(RunTransition)
        /// A document longer than one request: cut it into a tree of children (``DocumentTree``).
        case expand(DocumentSummary.Document, policy: RunPolicy)
        /// The batch lane: join the gathering batch of the policy's model (``BatchStore``).
        case batch(GenerationRequest, promptVersion: String, policy: RunPolicy)
    }

    /// What follows: the transition to write, whether the create may have reached the
    /// provider (its event is then `possible_duplicate`, whatever the step), its details,
    /// and a pause of every provider call (a 429).
    public struct Verdict: Sendable, Hashable {
        public var transition: RunTransition
        public var possibleDuplicate: Bool
        public var details: [String: JSONValue]
        public var pauseSeconds: Double?
        /// The event's kind when it is not the step's own (`quota_exhausted`).
        public var kind: String?

        public init(
            _ transition: RunTransition, possibleDuplicate: Bool = false, details: [String: JSONValue] = [:], pauseSeconds: Double? = nil,
            eventKind: String? = nil
        ) {
            self.transition = transition
            self.possibleDuplicate = possibleDuplicate
            self.details = details
            self.pauseSeconds = pauseSeconds
            self.kind = eventKind
        }

        /// The kind of the event written with the transition.
        public var eventKind: String { possibleDuplicate ? "possible_duplicate" : kind ?? transition.eventKind }
    }

    public func plan(for run: Run, policy: Result<RunPolicy, KilnError>, features: FeatureCatalog, now: Date) -> Plan {
        if run.cancelRequestedAt != nil { return .settle(.cancelBeforeSubmission) }
        let resolved: RunPolicy
        var generation: GenerationRequest
        let promptVersion: String
        do throws(KilnError) {
            resolved = try policy.get()
            let feature = try features.feature(named: run.feature)
            if let summary = feature as? DocumentSummary, DocumentSummary.isLong(run.input, limits: limits) {
                let document = try summary.document(in: run.input, limits: limits)
                if now >= run.deadline(resolved) { return .settle(.timeOut(providerStatus: nil)) }
                return .expand(document, policy: resolved)
            }
            try feature.validate(input: run.input, limits: limits)
            var request = try feature.request(for: run.input, policy: resolved)
            request.outputFormat = feature.outputFormat
            generation = request
            promptVersion = feature.promptVersion
        } catch {
            return .settle(.fail(RunFailure(code: error.code.rawValue, message: error.message, source: .policy)))
        }
        if now >= run.deadline(resolved) { return .settle(.timeOut(providerStatus: nil)) }
        if resolved.lane == .flex {
            // Patience has a limit: long enough after creation, or near the deadline, standard it is.
            let waited = now.timeIntervalSince(run.createdAt) >= settings.flexFallbackSeconds
            let nearDeadline = run.deadline(resolved).timeIntervalSince(now) < settings.flexFallbackSeconds
            if waited || nearDeadline { generation.fallbackFrom = .flex } else { generation.serviceTier = "flex" }
        }
        if resolved.lane == .batch {
            // A batch may take its whole window, and it is tried once: a run a batch gave back, or
            // whose deadline comes before a batch could end, goes standard.
            let room = run.deadline(resolved).timeIntervalSince(now)
            let fits = room >= BatchSettings.completionWindowSeconds + batch.gatherSeconds + batch.pollSeconds
            if batchLaneAvailable, run.batchID == nil, fits { return .batch(generation, promptVersion: promptVersion, policy: resolved) }
            generation.fallbackFrom = .batch
        }
        return .send(generation, promptVersion: promptVersion, policy: resolved)
    }

    /// The provider accepted the create: the run is in flight, first polled at `firstPollAt`.
    public func accepted(_ response: ProviderResponse, firstPollAt: Date) -> Verdict {
        Verdict(.accept(responseID: response.id, providerStatus: response.status.rawValue, firstPollAt: firstPollAt))
    }

    /// The create failed with `error`; `sending` carries the attempt just made.
    public func after(_ error: ProviderError, sending: Run, policy: RunPolicy, now: Date, random: Double) -> Verdict {
        switch error.kind {
        case .rateLimited where error.code == "resource_unavailable":
            // Flex capacity, not a rate limit: no charge, no attempt spent, no pause of other runs.
            let wait = max(error.retryAfter ?? 0, settings.flexRetrySeconds * (0.75 + 0.5 * random))
            return Verdict(
                .requeue(availableAt: now.addingTimeInterval(wait), lastError: error.failure, refundAttempt: true),
                details: ["reason": "flex_unavailable"])
        case .rateLimited where error.code == "insufficient_quota":
            // The account is out of quota: an account-level stop, not a run's failure. Nothing is
            // sent for quota_pause_seconds; the run waits as long, with no attempt spent.
            let wait = max(error.retryAfter ?? 0, settings.quotaPauseSeconds)
            return Verdict(
                .requeue(availableAt: now.addingTimeInterval(wait), lastError: error.failure, refundAttempt: true),
                details: ["reason": "insufficient_quota"], pauseSeconds: wait, eventKind: "quota_exhausted")
        case .rateLimited:
            let wait = error.retryAfter ?? settings.retryBaseSeconds
            return Verdict(
                .requeue(availableAt: now.addingTimeInterval(wait), lastError: error.failure, refundAttempt: true), pauseSeconds: wait)
        case .retryable where sending.attempt < policy.maxAttempts:
            let backoff = min(settings.retryMaxSeconds, settings.retryBaseSeconds * pow(2, Double(sending.attempt - 1)))
            let wait = max(error.retryAfter ?? 0, backoff * (0.5 + 0.5 * random))
            return Verdict(.requeue(availableAt: now.addingTimeInterval(wait), lastError: error.failure))
        case .ambiguous:
            return ambiguous(sending, policy: policy, reason: error.code, now: now)
        case .retryable, .permanent, .notFound:
            var failure = error.failure
            if error.kind == .retryable { failure.message = "attempts exhausted (\(sending.attempt)): " + failure.message }
            return Verdict(.fail(failure))
        }
    }

    /// A run found in `submitting` after its owner's lease expired. Sent (a send mark and
    /// no response id): the create may have reached the provider, see ``ambiguous``. Not
    /// sent: handed back to the queue.
    public func recover(_ run: Run, policy: RunPolicy, now: Date) -> Verdict {
        guard run.sendStartedAt != nil, run.responseID == nil else { return Verdict(.release) }
        return ambiguous(run, policy: policy, reason: "process_lost_after_send", now: now)
    }

    /// A create that may have reached the provider: resubmit or fail, by policy, and always
    /// with a `possible_duplicate` event.
    public func ambiguous(_ run: Run, policy: RunPolicy, reason: String, now: Date) -> Verdict {
        let details: [String: JSONValue] = ["reason": .string(reason), "policy": .string(settings.ambiguousSend.rawValue)]
        if settings.ambiguousSend == .resubmit, run.attempt < policy.maxAttempts {
            let failure = RunFailure(
                code: "possible_duplicate", message: "the create may have reached the provider (\(reason))", source: .kiln)
            return Verdict(
                .requeue(availableAt: now.addingTimeInterval(settings.retryBaseSeconds), lastError: failure),
                possibleDuplicate: true, details: details)
        }
        let failure = RunFailure(
            code: "possible_duplicate", message: "the create may have reached the provider (\(reason)); not resubmitted", source: .kiln)
        return Verdict(.fail(failure), possibleDuplicate: true, details: details)
    }
}
