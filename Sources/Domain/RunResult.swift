/// What the provider produced for a run: the `output` column.
public struct RunOutput: Sendable, Hashable, Codable {
    /// Every `output_text` part of every message item, in order (cut to `max_output_chars`).
    public var text: String
    /// A refusal the model gave instead of (or besides) text.
    public var refusal: String?
    /// Why the output is partial (`max_output_tokens`, `content_filter`), for `incomplete` runs.
    public var incompleteReason: String?
    /// Characters of provider text dropped by `max_output_chars`, when any were.
    public var truncatedChars: Int?

    public init(text: String, refusal: String? = nil, incompleteReason: String? = nil, truncatedChars: Int? = nil) {
        self.text = text
        self.refusal = refusal
        self.incompleteReason = incompleteReason
        self.truncatedChars = truncatedChars
    }

    enum CodingKeys: String, CodingKey {
        case text, refusal
        case incompleteReason = "incomplete_reason"
        case truncatedChars = "truncated_chars"
    }
}

/// Why a run did not complete: the `error` column.
public struct RunFailure: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Codable {
        /// The provider reported it (a failed response, an HTTP error).
        case provider
        /// Kiln decided it (attempts exhausted, deadline, lost response).
        case kiln
        /// The run's own policy or input refused it.
        case policy
    }

    public var code: String
    public var message: String
    public var source: Source

    public init(code: String, message: String, source: Source) {
        self.code = code
        self.message = message
        self.source = source
    }
}

/// Tokens the provider reported for a run: the `usage` column.
public struct RunUsage: Sendable, Hashable, Codable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var totalTokens: Int
    public var cachedInputTokens: Int
    public var reasoningTokens: Int

    public init(inputTokens: Int, outputTokens: Int, totalTokens: Int, cachedInputTokens: Int = 0, reasoningTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.totalTokens = totalTokens
        self.cachedInputTokens = cachedInputTokens
        self.reasoningTokens = reasoningTokens
    }

    enum CodingKeys: String, CodingKey {
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case totalTokens = "total_tokens"
        case cachedInputTokens = "cached_input_tokens"
        case reasoningTokens = "reasoning_tokens"
    }
}
