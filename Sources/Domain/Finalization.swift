import Foundation

/// What a terminal provider response means for the run: pure.
public enum Finalization {
    public static func outcome(
        of response: ProviderResponse, run: Run, policy: RunPolicy, prices: [String: ModelPrice], now: Date
    ) -> ProviderOutcome {
        let status: RunStatus =
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
        let hasOutput = !response.outputText.isEmpty || response.refusal != nil
        let output =
            hasOutput || status == .completed
            ? RunOutput(text: text, refusal: response.refusal, incompleteReason: response.incompleteReason, truncatedChars: truncated)
            : nil
        var error: RunFailure?
        switch status {
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
        let cost = response.usage.flatMap { usage in prices[policy.model].map { $0.costMicros(for: usage) } }
        return ProviderOutcome(
            status: status, providerStatus: response.status.rawValue, output: output, error: error, usage: response.usage,
            costMicros: cost, providerCompletedAt: response.completedAt ?? (status == .completed ? now : nil),
            requiresReview: policy.requiresReview, pollsCounted: 1)
    }
}
