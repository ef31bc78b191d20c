import Foundation

/// A long document as a tree of ordinary runs: map children summarize chunks of the text
/// (level 0), merge children summarize contiguous groups of the level below, in chunk order,
/// until one final merge writes the parent's summary.
///
/// Pure functions: the submitter cuts a parent with ``expand(_:document:policy:now:)`` and
/// writes the children with the parent's move in one transaction; the poller's tree step
/// reads the children's progress and writes the next level the same way. The parent never
/// calls the provider.
public struct DocumentTree: Sendable {
    /// `available_at` of a child its parent has not released yet (9999-12-31T00:00:00Z).
    public static let heldUntil = Date(timeIntervalSince1970: 253_402_214_400)

    public var settings: DocumentSettings
    public var limits: InputLimits
    public var prices: [String: ModelPrice]

    public init(settings: DocumentSettings, limits: InputLimits, prices: [String: ModelPrice]) {
        self.settings = settings
        self.limits = limits
        self.prices = prices
    }

    /// The children of level 0 and what the tree is expected to cost.
    public struct Expansion: Sendable {
        public var children: [Run]
        public var estimate: CostEstimate
        public var deadline: Date
    }

    /// An upper estimate of a tree's cost: input at 4 characters per token, every child's
    /// output at its `max_output_tokens` cap.
    public struct CostEstimate: Sendable, Hashable {
        public var chunks: Int
        public var levels: Int
        public var inputTokens: Int
        public var outputTokens: Int
        /// Nil when the model has no price.
        public var costMicros: Int64?
    }

    /// Cuts `document` into map children of `parent` (the first ``DocumentSettings/childrenInFlight``
    /// released, the others held); refuses a tree with too many chunks or over the policy's cost cap.
    public func expand(_ parent: Run, document: DocumentSummary.Document, policy: RunPolicy, now: Date) throws(KilnError) -> Expansion {
        let chunks = DocumentSplitter.split(document.text, maxChars: settings.chunkChars)
        if chunks.count > settings.maxChildren {
            throw KilnError(
                .inputTooLarge,
                "document_summary input.text makes \(chunks.count) chunks of at most \(settings.chunkChars) characters; documents.max_children is \(settings.maxChildren)"
            )
        }
        let characters = chunks.last?.end ?? 0
        let estimate = self.estimate(characters: characters, chunks: chunks.count, policy: policy)
        if let cap = policy.maxCostMicros, let cost = estimate.costMicros, cost > cap {
            throw KilnError(
                .overBudget,
                "run \(parent.id): the document's \(chunks.count) chunks over \(estimate.levels + 1) levels are estimated at \(cost) micro-dollars (\(estimate.inputTokens) input and \(estimate.outputTokens) output tokens); policy.max_cost_micros is \(cap)"
            )
        }
        let deadline = self.deadline(of: parent, chunks: chunks.count, policy: policy)
        let childPolicy = self.childPolicy(parent, policy: policy, deadline: deadline, final: false, now: now)
        let children = chunks.map { chunk in
            var child = Run(
                id: RunID.make(at: now), tenantID: parent.tenantID, userID: parent.userID, feature: DocumentPartSummary().name,
                subject: parent.subject,
                input: [
                    "text": .string(String(document.text[chunk.range])), "part": .number(Double(chunk.index + 1)),
                    "parts": .number(Double(chunks.count)),
                ], policy: childPolicy, createdAt: now)
            child.parentRunID = parent.id
            child.level = 0
            child.chunkIndex = chunk.index
            child.charStart = chunk.start
            child.charEnd = chunk.end
            child.availableAt = chunk.index < settings.childrenInFlight ? now : Self.heldUntil
            return child
        }
        return Expansion(children: children, estimate: estimate, deadline: deadline)
    }

    /// The tree's estimate for a document of `characters` cut into `chunks`.
    public func estimate(characters: Int, chunks: Int, policy: RunPolicy) -> CostEstimate {
        let outputChars = partChars(policy)
        let levels = ReducePlanner.estimatedDepth(chunks: chunks, partChars: outputChars, settings: settings.reduce)
        var inputTokens = characters / 4 + chunks * 100
        var outputTokens = chunks * settings.childOutputTokens
        var parts = chunks
        for _ in 0..<levels {
            let groups = max(1, Int((Double(parts * outputChars) / Double(settings.groupChars)).rounded(.up)))
            inputTokens += parts * outputChars / 4 + groups * 150
            outputTokens += groups * max(settings.childOutputTokens, policy.maxOutputTokens)
            parts = groups
        }
        let cost = prices[policy.model].map {
            $0.costMicros(for: RunUsage(inputTokens: inputTokens, outputTokens: outputTokens, totalTokens: inputTokens + outputTokens))
        }
        return CostEstimate(chunks: chunks, levels: levels, inputTokens: inputTokens, outputTokens: outputTokens, costMicros: cost)
    }

    /// Most characters a map or intermediate merge child writes: small enough that a merge
    /// reads at least eight of them.
    public func partChars(_ policy: RunPolicy) -> Int {
        min(policy.maxOutputChars, settings.groupChars / 8)
    }

    /// The parent's own deadline, sized for its tree: the run deadline once per wave of
    /// children in flight and once per possible merge level, at most 7 days.
    public func deadline(of parent: Run, chunks: Int, policy: RunPolicy) -> Date {
        let waves = (chunks + settings.childrenInFlight - 1) / settings.childrenInFlight
        let seconds = min(7 * 86_400, policy.deadlineSeconds * (waves + settings.maxDepth))
        return parent.createdAt.addingTimeInterval(Double(seconds))
    }

    /// The deadline a parent's `expanded` event recorded when it was cut.
    public static func recordedDeadline(_ cut: RunEvent?) -> Date? {
        cut?.details["deadline"]?.stringValue.flatMap(Timestamp.parse)
    }

    /// A child's policy: the parent's, with the child's output cap, a deadline that ends
    /// with the tree's, no review and no cap of its own.
    func childPolicy(_ parent: Run, policy: RunPolicy, deadline: Date, final: Bool, now: Date) -> JSONValue {
        var object = parent.policy.objectValue ?? [:]
        let remaining = max(1, min(7 * 86_400, Int(deadline.timeIntervalSince(now).rounded(.down))))
        object["deadline_seconds"] = .number(Double(remaining))
        object["max_output_tokens"] = .number(
            Double(final ? max(policy.maxOutputTokens, settings.childOutputTokens) : settings.childOutputTokens))
        object["max_output_chars"] = .number(Double(final ? policy.maxOutputChars : partChars(policy)))
        object["requires_review"] = .bool(false)
        object["max_cost_micros"] = .null
        object["allow_missing_fraction"] = .number(0)
        if let window = policy.completionWindow, Double(remaining) < window.seconds { object["completion_window"] = .null }
        return .object(object)
    }
}
