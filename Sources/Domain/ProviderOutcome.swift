import Foundation

/// A terminal state the provider reported, with everything to record.
public struct ProviderOutcome: Sendable, Hashable {
    public var status: RunStatus
    public var providerStatus: String
    public var output: RunOutput?
    public var error: RunFailure?
    public var usage: RunUsage?
    public var costMicros: Int64?
    public var providerCompletedAt: Date?
    public var requiresReview: Bool
    /// Polls made by the pass that finalizes (1 for a retrieve, 0 for a cancel reply).
    public var pollsCounted: Int

    public init(
        status: RunStatus, providerStatus: String, output: RunOutput? = nil, error: RunFailure? = nil,
        usage: RunUsage? = nil, costMicros: Int64? = nil, providerCompletedAt: Date? = nil,
        requiresReview: Bool = false, pollsCounted: Int = 1
    ) {
        self.status = status
        self.providerStatus = providerStatus
        self.output = output
        self.error = error
        self.usage = usage
        self.costMicros = costMicros
        self.providerCompletedAt = providerCompletedAt
        self.requiresReview = requiresReview
        self.pollsCounted = pollsCounted
    }
}
