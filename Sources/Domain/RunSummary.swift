import Foundation

/// How much is where: the answer of `kiln status`.
public struct RunSummary: Sendable, Hashable, Encodable {
    /// Runs the application made (long documents' parents included), by status.
    public var counts: [String: Int]
    /// Long documents' children (map and merge runs Kiln made), by status: counted apart.
    public var childCounts: [String: Int] = [:]
    public var oldestQueuedAt: Date?
    public var inFlight: Int
    /// Everything paid: the runs' own responses and their orphans (a parent's cost is its
    /// children's, counted once).
    public var costMicros: Int64
    public var possibleDuplicates: Int
    /// Responses the provider ran for runs that did not use them (found through webhooks).
    public var orphanResponses: Int
    public var orphanCostMicros: Int64
    /// Queued runs a limit held back last, by ``WaitReason`` (children included).
    public var waiting: [String: Int] = [:]
    /// Responses Kiln gave up deleting at the provider (after its retries): they stay there
    /// until the provider's own retention ends them.
    public var providerDeletionsGivenUp = 0
    /// When the provider last said the account is out of quota (a `quota_exhausted` event).
    public var quotaExhaustedAt: Date?
    /// Batches of the batch lane not done yet, by ``BatchState`` (`gathering`, `submitted`, …).
    public var batches: [String: Int] = [:]

    /// ``batches`` as text, in the order of the states: "gathering 1, submitted 2".
    public var batchesText: String {
        BatchState.allCases.compactMap { state in batches[state.rawValue].map { "\(state.rawValue) \($0)" } }.joined(separator: ", ")
    }

    public init(
        counts: [String: Int], oldestQueuedAt: Date?, inFlight: Int, costMicros: Int64, possibleDuplicates: Int,
        orphanResponses: Int = 0, orphanCostMicros: Int64 = 0
    ) {
        self.counts = counts
        self.oldestQueuedAt = oldestQueuedAt
        self.inFlight = inFlight
        self.costMicros = costMicros
        self.possibleDuplicates = possibleDuplicates
        self.orphanResponses = orphanResponses
        self.orphanCostMicros = orphanCostMicros
    }

    enum CodingKeys: String, CodingKey {
        case counts
        case childCounts = "child_counts"
        case oldestQueuedAt = "oldest_queued_at"
        case inFlight = "in_flight"
        case costMicros = "cost_micros"
        case possibleDuplicates = "possible_duplicates"
        case orphanResponses = "orphan_responses"
        case orphanCostMicros = "orphan_cost_micros"
        case waiting
        case providerDeletionsGivenUp = "provider_deletions_given_up"
        case quotaExhaustedAt = "quota_exhausted_at"
        case batches
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        var all: [String: Int] = [:]
        for status in RunStatus.allCases { all[status.rawValue] = counts[status.rawValue] ?? 0 }
        try c.encode(all, forKey: .counts)
        var children: [String: Int] = [:]
        for status in RunStatus.allCases { children[status.rawValue] = childCounts[status.rawValue] ?? 0 }
        try c.encode(children, forKey: .childCounts)
        try c.encode(oldestQueuedAt.map(Timestamp.format), forKey: .oldestQueuedAt)
        try c.encode(inFlight, forKey: .inFlight)
        try c.encode(costMicros, forKey: .costMicros)
        try c.encode(possibleDuplicates, forKey: .possibleDuplicates)
        try c.encode(orphanResponses, forKey: .orphanResponses)
        try c.encode(orphanCostMicros, forKey: .orphanCostMicros)
        try c.encode(waiting, forKey: .waiting)
        try c.encode(providerDeletionsGivenUp, forKey: .providerDeletionsGivenUp)
        try c.encode(quotaExhaustedAt.map(Timestamp.format), forKey: .quotaExhaustedAt)
        try c.encode(batches, forKey: .batches)
    }
}
