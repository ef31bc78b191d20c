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
