/// Tokens the provider reported for a run: the `usage` column. It keeps every number a bill
/// depends on, so a tenant's cost can be recomputed when prices change: cached and cache-write
/// input tokens, reasoning tokens (billed as output), the service tier the provider says it
/// used, and the completion window the run asked for.
public struct RunUsage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var totalTokens: Int
    /// Input tokens read from the provider's prompt cache (part of `inputTokens`).
    public var cachedInputTokens: Int
    /// Output tokens spent reasoning (part of `outputTokens`).
    public var reasoningTokens: Int
    /// Input tokens written to the prompt cache (part of `inputTokens`).
    public var cacheWriteTokens: Int
    /// The `service_tier` the response reports (`default`, `flex`, `priority`, …), nil when it reports none.
    public var serviceTier: String?
    /// The `background_options.completion_window` the run was sent with (`2h`, `8h`), nil for none.
    public var completionWindow: String?
    /// The provider batch that carried the run (the Batch lane, billed at Batch rates), nil for none.
    public var batchID: String?

    public init(
        inputTokens: Int, outputTokens: Int, totalTokens: Int, cachedInputTokens: Int = 0, reasoningTokens: Int = 0,
        cacheWriteTokens: Int = 0, serviceTier: String? = nil, completionWindow: String? = nil
    ) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.totalTokens = totalTokens
        self.cachedInputTokens = cachedInputTokens
        self.reasoningTokens = reasoningTokens
        self.cacheWriteTokens = cacheWriteTokens
        self.serviceTier = serviceTier
        self.completionWindow = completionWindow
    }

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case totalTokens = "total_tokens"
        case cachedInputTokens = "cached_input_tokens"
        case reasoningTokens = "reasoning_tokens"
        case cacheWriteTokens = "cache_write_tokens"
        case serviceTier = "service_tier"
        case completionWindow = "completion_window"
        case batchID = "batch_id"
    }

    /// Rows written before the later keys existed read as zero and none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputTokens = try c.decodeIfPresent(Int.self, forKey: .inputTokens) ?? 0
        outputTokens = try c.decodeIfPresent(Int.self, forKey: .outputTokens) ?? 0
        totalTokens = try c.decodeIfPresent(Int.self, forKey: .totalTokens) ?? 0
        cachedInputTokens = try c.decodeIfPresent(Int.self, forKey: .cachedInputTokens) ?? 0
        reasoningTokens = try c.decodeIfPresent(Int.self, forKey: .reasoningTokens) ?? 0
        cacheWriteTokens = try c.decodeIfPresent(Int.self, forKey: .cacheWriteTokens) ?? 0
        serviceTier = try c.decodeIfPresent(String.self, forKey: .serviceTier)
        completionWindow = try c.decodeIfPresent(String.self, forKey: .completionWindow)
        batchID = try c.decodeIfPresent(String.self, forKey: .batchID)
    }
}
