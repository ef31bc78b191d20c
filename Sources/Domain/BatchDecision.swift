import Foundation

/// What the batch lane does with each run when its batch ends, as a pure function of the run,
/// its line in the batch's output or error file, and the price table. The poller fetches
/// the files and writes the transitions; nothing here reads a clock or the database.
public struct BatchDecision: Sendable {
    public var prices: [String: ModelPrice]
    public var pricing: PricingSettings
    public var features: FeatureCatalog

    public init(prices: [String: ModelPrice], pricing: PricingSettings, features: FeatureCatalog) {
        self.prices = prices
        self.pricing = pricing
        self.features = features
    }

    /// A run's end (or its return to the queue), with the details of its event.
    public struct Verdict: Sendable, Hashable {
        public var transition: RunTransition
        public var details: [String: JSONValue]

        public init(_ transition: RunTransition, details: [String: JSONValue] = [:]) {
            self.transition = transition
            self.details = details
        }
    }

    /// The run's verdict once the provider batch `providerBatchID` ended in `batchStatus`
    /// with `result` for it (nil: the files have no line for it).
    ///
    /// - A response: the run ends as a standard run with that response would (output,
    ///   usage, cost at the Batch multiplier). A run whose cancellation was asked for after its
    ///   file left ends `cancelled`, its usage and cost kept (the provider ran and bills it).
    /// - `batch_expired`, `batch_cancelled`, or no line in an expired or cancelled batch: the
    ///   request did not run and is not billed; the run goes back to the queue (sent at standard
    ///   next), or ends `cancelled` when its cancellation was asked for. No line in a completed
    ///   batch (an unreadable one): the run fails `batch_missing_result`, never sent twice.
    /// - An HTTP error for the request: 429 and 5xx go back to the queue; any other ends the
    ///   run `failed` with the provider's code and message.
    public func settle(
        _ run: Run, result: BatchResult?, batchStatus: String, providerBatchID: String, policy resolution: Result<RunPolicy, KilnError>,
        now: Date
    ) -> Verdict {
        let details: [String: JSONValue] = ["batch": .string(providerBatchID), "batch_status": .string(batchStatus)]
        let cancelled = run.cancelRequestedAt != nil
        switch result {
        case .response(let response) where response.status.isTerminal:
            let policy: RunPolicy
            switch resolution {
            case .failure(let error): return Verdict(.fail(PollDecision.invalidPolicy(error)), details: details)
            case .success(let resolved): policy = resolved
            }
            let schema = (try? features.feature(named: run.feature))?.outputSchema
            var outcome = Finalization.outcome(
                of: response, run: run, policy: policy, schema: schema, prices: prices, pricing: pricing, batchID: providerBatchID,
                now: now)
            outcome.pollsCounted = 0
            if cancelled {
                outcome.status = .cancelled
                outcome.output = nil
                outcome.requiresReview = false
                outcome.error = RunFailure(
                    code: "cancelled", message: "cancelled while its batch ran: the provider ran it (billed); its result was discarded",
                    source: .kiln)
            }
            return Verdict(.finish(outcome), details: details.merging(["response_id": .string(response.id.rawValue)]) { $1 })
        case .error(let status, let code, let message) where !(result?.isUnfinished ?? true):
            let failure = RunFailure(code: code, message: message, source: .provider)
            if let status, status == 429 || status >= 500 {
                if cancelled { return cancelledUnrun(details) }
                return Verdict(.leaveBatch(lastError: failure), details: details)
            }
            return Verdict(.fail(failure), details: details)
        case nil where batchStatus == "completed":
            // A completed batch ran every request: a run without a line (an unreadable one) was run
            // and billed, so it is not sent again.
            return Verdict(
                .fail(
                    RunFailure(
                        code: "batch_missing_result",
                        message: "the batch \(providerBatchID) completed without a readable result for this run",
                        source: .provider)), details: details)
        default:
            // Not run: expired, cancelled, no line, or a response still running in an ended batch.
            if cancelled { return cancelledUnrun(details) }
            let code: String =
                switch result {
                case .error(_, let code, _): code
                default: batchStatus == "completed" ? "batch_missing_result" : "batch_\(batchStatus)"
                }
            return Verdict(
                .leaveBatch(
                    lastError: RunFailure(
                        code: code, message: "the batch \(providerBatchID) ended \(batchStatus) before this request ran", source: .provider)
                ),
                details: details)
        }
    }

    /// Every run of a batch that failed as a whole (`failed`: its file was refused) or could
    /// not be sent: back to the queue, to be sent at standard.
    public func giveBack(_ run: Run, reason: RunFailure, providerBatchID: String?) -> Verdict {
        var details: [String: JSONValue] = ["reason": .string(reason.code)]
        if let providerBatchID { details["batch"] = .string(providerBatchID) }
        if run.cancelRequestedAt != nil {
            return run.status == .submitting ? Verdict(.cancelBeforeSubmission, details: details) : cancelledUnrun(details)
        }
        return Verdict(.leaveBatch(lastError: reason), details: details)
    }

    private func cancelledUnrun(_ details: [String: JSONValue]) -> Verdict {
        Verdict(
            .finish(
                ProviderOutcome(
                    status: .cancelled, providerStatus: "cancelled",
                    error: RunFailure(code: "cancelled", message: "cancelled before its batch ran it", source: .kiln), pollsCounted: 0)),
            details: details)
    }
}
