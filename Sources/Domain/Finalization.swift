import Foundation

/// What a terminal provider response means for the run: pure.
public enum Finalization {
    /// Characters of raw text kept on a run whose output did not parse or match its schema.
    public static let rawTextKeptOnInvalidOutput = 4000

    /// The outcome of `response`; `schema` is the feature's output schema, if it has one.
    ///
    /// A completed response whose only answer is a refusal ends `failed` with code
    /// `refusal` (the model declined; the provider did not fail). With a schema, the text must
    /// parse as JSON and satisfy it (then `output.json` holds the value), or the run ends
    /// `failed` with `invalid_output`, the raw text kept, bounded, for debugging.
    public static func outcome(
        of response: ProviderResponse, run: Run, policy: RunPolicy, schema: OutputSchema? = nil, prices: [String: ModelPrice],
        pricing: PricingSettings = PricingSettings(), batchID: String? = nil, now: Date
    ) -> ProviderOutcome {
        var status: RunStatus =
            switch response.status {
            case .completed: .completed
            case .failed: .failed
            case .incomplete: .incomplete
            case .cancelled: .cancelled
            case .queued, .inProgress, .unknown: .failed  // not called for these
            }
        var text = response.outputText
        var truncated: Int?
        if text.count > policy.maxOutputChars {
            truncated = text.count - policy.maxOutputChars
            text = String(text.prefix(policy.maxOutputChars))
        }
        var json: JSONValue?
        var error: RunFailure?
        switch status {
        case .completed:
            if let refusal = response.refusal, response.outputText.allSatisfy(\.isWhitespace) {
                status = .failed
                error = RunFailure(code: "refusal", message: "the model refused: \(refusal.prefix(500))", source: .provider)
            } else if let schema {
                switch parse(response.outputText, against: schema) {
                case .valid(let value): json = value
                case .invalid(let failure):
                    status = .failed
                    error = failure
                    if text.count > rawTextKeptOnInvalidOutput {
                        truncated = response.outputText.count - rawTextKeptOnInvalidOutput
                        text = String(text.prefix(rawTextKeptOnInvalidOutput))
                    }
                }
            }
        case .failed:
            error = RunFailure(
                code: response.errorCode ?? "failed", message: response.errorMessage ?? "the provider reported failure", source: .provider)
        case .incomplete:
            error = RunFailure(
                code: response.incompleteReason ?? "incomplete",
                message: "the provider stopped early: \(response.incompleteReason ?? "unknown reason")", source: .provider)
        case .cancelled:
            error = RunFailure(code: "cancelled", message: "cancelled at the provider", source: .provider)
        default:
            error = nil
        }
        let hasOutput = !response.outputText.isEmpty || response.refusal != nil
        let output =
            hasOutput || status == .completed
            ? RunOutput(
                text: text, json: json, refusal: response.refusal, incompleteReason: response.incompleteReason, truncatedChars: truncated)
            : nil
        // Priced as the provider bills it: the batch that carried it, else the tier it reports
        // having used, else the window the run asked for.
        var usage = response.usage
        usage?.completionWindow = batchID == nil ? policy.completionWindow?.discountedWindow : nil
        usage?.batchID = batchID
        let multiplier =
            batchID == nil ? pricing.multiplier(tier: usage?.serviceTier, window: usage?.completionWindow) : pricing.batchMultiplier
        let cost = usage.flatMap { usage in prices[policy.model].map { $0.costMicros(for: usage, multiplier: multiplier) } }
        return ProviderOutcome(
            status: status, providerStatus: response.status.rawValue, output: output, error: error, usage: usage,
            costMicros: cost, providerCompletedAt: response.completedAt ?? (response.status == .completed ? now : nil),
            requiresReview: policy.requiresReview, pollsCounted: 1)
    }

    enum Parsed {
        case valid(JSONValue)
        case invalid(RunFailure)
    }

    /// The output text as the JSON value `schema` promised, or why it is not.
    static func parse(_ text: String, against schema: OutputSchema) -> Parsed {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            return .invalid(
                RunFailure(code: "invalid_output", message: "the output is not valid JSON (\(text.utf8.count) bytes)", source: .provider))
        }
        let violations = schema.violations(of: value)
        guard violations.isEmpty else {
            return .invalid(
                RunFailure(
                    code: "invalid_output", message: "the output does not match the schema: " + violations.joined(separator: "; "),
                    source: .provider))
        }
        return .valid(value)
    }
}
