/// What the provider produced for a run: the `output` column.
public struct RunOutput: Sendable, Hashable, Codable {
    /// Every `output_text` part of every message item, in order (cut to `max_output_chars`).
    public var text: String
    /// The output parsed as JSON, for a feature with an output schema it satisfied.
    public var json: JSONValue?
    /// A refusal the model gave instead of (or besides) text.
    public var refusal: String?
    /// Why the output is partial (`max_output_tokens`, `content_filter`), for `incomplete` runs.
    public var incompleteReason: String?
    /// Characters of provider text dropped by `max_output_chars`, when any were.
    public var truncatedChars: Int?

    public init(
        text: String, json: JSONValue? = nil, refusal: String? = nil, incompleteReason: String? = nil, truncatedChars: Int? = nil
    ) {
        self.text = text
        self.json = json
        self.refusal = refusal
        self.incompleteReason = incompleteReason
        self.truncatedChars = truncatedChars
    }

    enum CodingKeys: String, CodingKey {
        case text, json, refusal
        case incompleteReason = "incomplete_reason"
        case truncatedChars = "truncated_chars"
    }
}
