import Foundation

/// What a response that no in-flight run holds means, once retrieved: pure, like the other
/// decisions. The response's metadata (`kiln_run_id`, `kiln_attempt`) names the run and the
/// attempt that created it.
public enum WebhookMatch: Sendable, Hashable {
    /// The run holds this response by now: make it due.
    case makeDue(Run)
    /// The run is still in `submitting` with the send mark of this very attempt (the webhook
    /// beat the create's answer, or the sender died before storing it): the run takes the
    /// response as its own instead of waiting for its lease to run out and sending again.
    case adopt(RunUpdate)
    /// The run already has another response, or is final: paid work it will not use.
    case orphan(OrphanResponse)
    /// Not Kiln's response (no such run, no metadata), or nothing to do.
    case none

    public static func decide(
        _ response: ProviderResponse, run: Run?, policy: RunPolicy?, prices: [String: ModelPrice],
        pricing: PricingSettings = PricingSettings(), actor: String, now: Date
    ) -> WebhookMatch {
        guard let run else { return .none }
        if run.responseID == response.id { return run.status == .inProgress ? .makeDue(run) : .none }
        let attempt = response.metadata["kiln_attempt"].flatMap(Int.init)
        if run.status == .submitting, run.responseID == nil, run.sendStartedAt != nil, attempt == run.attempt,
            let update = RunUpdate.make(
                .accept(responseID: response.id, providerStatus: response.status.rawValue, firstPollAt: now), on: run, at: now,
                actor: actor, details: ["via": "webhook", "attempt": .number(Double(run.attempt))])
        {
            return .adopt(update)
        }
        guard response.status.isTerminal else { return .none }  // looked at again when it ends
        let multiplier = pricing.multiplier(tier: response.usage?.serviceTier, window: policy?.completionWindow?.discountedWindow)
        let cost = response.usage.flatMap { usage in
            (policy.flatMap { prices[$0.model] }).map { $0.costMicros(for: usage, multiplier: multiplier) }
        }
        return .orphan(
            OrphanResponse(
                runID: run.id, responseID: response.id, providerStatus: response.status.rawValue, attempt: attempt,
                usage: response.usage, costMicros: cost ?? 0, at: now, actor: actor, runStatus: run.status))
    }
}

/// A response the provider ran (and bills) for a run that does not use it: the duplicate a
/// crash or an ambiguous send caused. Recorded once per response as an `orphan_response`
/// event, its cost added to the run's `orphan_cost_micros`.
public struct OrphanResponse: Sendable, Hashable {
    public var runID: RunID
    public var responseID: ResponseID
    public var providerStatus: String
    public var attempt: Int?
    public var usage: RunUsage?
    public var costMicros: Int64
    public var at: Date
    public var actor: String
    public var runStatus: RunStatus

    public init(
        runID: RunID, responseID: ResponseID, providerStatus: String, attempt: Int?, usage: RunUsage?, costMicros: Int64, at: Date,
        actor: String, runStatus: RunStatus
    ) {
        self.runID = runID
        self.responseID = responseID
        self.providerStatus = providerStatus
        self.attempt = attempt
        self.usage = usage
        self.costMicros = costMicros
        self.at = at
        self.actor = actor
        self.runStatus = runStatus
    }

    /// The `orphan_response` event.
    public var event: RunEvent {
        var details: [String: JSONValue] = [
            "response_id": .string(responseID.rawValue), "status": .string(providerStatus),
            "cost_micros": .number(Double(costMicros)),
        ]
        if let attempt { details["attempt"] = .number(Double(attempt)) }
        if let usage {
            details["input_tokens"] = .number(Double(usage.inputTokens))
            details["output_tokens"] = .number(Double(usage.outputTokens))
        }
        return RunEvent(
            runID: runID, fromStatus: runStatus, toStatus: runStatus, at: at, actor: actor, kind: "orphan_response",
            details: .object(details))
    }
}
