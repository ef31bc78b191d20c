/// How a long document becomes a tree of child runs (`documents.*` keys): see ``DocumentTree``.
public struct DocumentSettings: Sendable, Hashable {
    /// Largest chunk one map child summarizes, in Unicode scalars (at most `limits.max_input_chars`).
    public var chunkChars = 100_000
    /// Most characters of partial summaries one reduce child reads.
    public var groupChars = 150_000
    /// Children of one parent at the provider (or released to be sent) at once.
    public var childrenInFlight = 16
    /// Deepest reduce level; a tree that would need more fails its parent.
    public var maxDepth = 4
    /// Each level's summaries must be at least this share shorter than what it read.
    public var minShrink = 0.3
    /// `max_output_tokens` of map and intermediate reduce children (room for reasoning tokens).
    public var childOutputTokens = 8_000
    /// Longest wait between two looks at a parent (children finishing wake it sooner).
    public var checkSeconds = 15.0
    /// Most map children of one document.
    public var maxChildren = 1_000

    public init() {}

    /// The reduce planner's part of these settings.
    public var reduce: ReduceSettings {
        ReduceSettings(groupChars: groupChars, maxDepth: maxDepth, minShrink: minShrink)
    }

    /// Checks every value against `limits`; the message names the key.
    public func validate(limits: InputLimits) throws(KilnError) {
        func check(_ ok: Bool, _ key: String, _ rule: String, _ value: Any) throws(KilnError) {
            if !ok { throw KilnError(.invalidConfiguration, "documents.\(key) \(rule), got \(value)") }
        }
        try check(
            chunkChars >= 1_000 && chunkChars <= limits.maxInputChars, "chunk_chars", "must be in 1000...limits.max_input_chars",
            chunkChars)
        try check(
            groupChars >= 2_000 && groupChars <= limits.maxInputChars, "group_chars", "must be in 2000...limits.max_input_chars", groupChars
        )
        try check((1...256).contains(childrenInFlight), "children_in_flight", "must be in 1...256", childrenInFlight)
        try check((1...8).contains(maxDepth), "max_depth", "must be in 1...8", maxDepth)
        try check(minShrink >= 0 && minShrink < 1, "min_shrink", "must be in [0, 1)", minShrink)
        try check((16...128_000).contains(childOutputTokens), "child_output_tokens", "must be in 16...128000", childOutputTokens)
        try check(checkSeconds >= 0.05 && checkSeconds <= 300, "check_seconds", "must be in 0.05...300", checkSeconds)
        try check((2...100_000).contains(maxChildren), "max_children", "must be in 2...100000", maxChildren)
    }
}
