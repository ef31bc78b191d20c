import KilnDomain

enum PollOutcome: Sendable, Equatable {
    case rescheduled
    /// A long document's parent moved its tree on: `released` children are due now.
    case treeMoved(released: Int)
    case finalized(RunStatus)
    case retrieveFailed
    case released
    case lostLease
}

/// What one poll pass did.
public struct PollPassResult: Sendable, Hashable {
    public var claimed = 0
    public var rescheduled = 0
    public var finalized: [String: Int] = [:]
    public var retrieveErrors = 0
    public var released = 0
    public var lostLeases = 0
    /// Webhook deliveries whose response no in-flight run held, looked at this pass.
    public var webhooksLookedAt = 0
    public var adopted = 0
    public var orphans = 0
    /// Long documents' parents looked at (``Poller/stepTrees``).
    public var parentsLookedAt = 0
    /// Children those parents made due (released, or a new merge level).
    public var childrenReleased = 0
    /// Stored responses deleted at the provider, and deletions that failed (tried again later).
    public var providerDeletes = 0
    public var providerDeleteFailures = 0
    /// Old runs pruned (`worker.retention_days`).
    public var pruned = 0
    /// Batches of the batch lane taken a step further (``Poller/stepBatches``).
    public var batchesLookedAt = 0

    public init() {}

    public var finalizedCount: Int { finalized.values.reduce(0, +) }

    mutating func record(_ outcome: PollOutcome) {
        switch outcome {
        case .rescheduled: rescheduled += 1
        case .treeMoved(let released):
            rescheduled += 1
            childrenReleased += released
        case .finalized(let status): finalized[status.rawValue, default: 0] += 1
        case .retrieveFailed: retrieveErrors += 1
        case .released: released += 1
        case .lostLease: lostLeases += 1
        }
    }

    public var summary: String {
        let statuses = finalized.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return
            "poll: claimed \(claimed), finalized \(finalizedCount)\(statuses.isEmpty ? "" : " (\(statuses))"), rescheduled \(rescheduled), retrieve errors \(retrieveErrors)"
    }
}

extension PollPassResult {
    /// Adds another pass's counts (for `--once`).
    public mutating func add(_ other: PollPassResult) {
        claimed += other.claimed
        rescheduled += other.rescheduled
        for (status, count) in other.finalized { finalized[status, default: 0] += count }
        retrieveErrors += other.retrieveErrors
        released += other.released
        lostLeases += other.lostLeases
        webhooksLookedAt += other.webhooksLookedAt
        adopted += other.adopted
        orphans += other.orphans
        parentsLookedAt += other.parentsLookedAt
        childrenReleased += other.childrenReleased
        providerDeletes += other.providerDeletes
        providerDeleteFailures += other.providerDeleteFailures
        pruned += other.pruned
    }
}
