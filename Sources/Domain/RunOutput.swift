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
    /// A long document's summary made without some of its text (`allow_missing_fraction`):
    /// the ranges of `input.text` no summary covers, `[start, end)` in Unicode scalars.
    public var missingRanges: [CharRange]?

    public init(
        text: String, json: JSONValue? = nil, refusal: String? = nil, incompleteReason: String? = nil, truncatedChars: Int? = nil,
        missingRanges: [CharRange]? = nil
    ) {
        self.text = text
        self.json = json
        self.refusal = refusal
        self.incompleteReason = incompleteReason
        self.truncatedChars = truncatedChars
        self.missingRanges = missingRanges
    }

    /// Whether the summary leaves out part of its document.
    public var isPartial: Bool { !(missingRanges ?? []).isEmpty }

    enum CodingKeys: String, CodingKey {
        case text, json, refusal
        case incompleteReason = "incomplete_reason"
        case truncatedChars = "truncated_chars"
        case missingRanges = "missing_ranges"
        case partial
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        text = try c.decode(String.self, forKey: .text)
        json = try c.decodeIfPresent(JSONValue.self, forKey: .json)
        refusal = try c.decodeIfPresent(String.self, forKey: .refusal)
        incompleteReason = try c.decodeIfPresent(String.self, forKey: .incompleteReason)
        truncatedChars = try c.decodeIfPresent(Int.self, forKey: .truncatedChars)
        missingRanges = try c.decodeIfPresent([CharRange].self, forKey: .missingRanges)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(text, forKey: .text)
        try c.encodeIfPresent(json, forKey: .json)
        try c.encodeIfPresent(refusal, forKey: .refusal)
        try c.encodeIfPresent(incompleteReason, forKey: .incompleteReason)
        try c.encodeIfPresent(truncatedChars, forKey: .truncatedChars)
        if let missingRanges {
            try c.encode(missingRanges, forKey: .missingRanges)
            try c.encode(true, forKey: .partial)
        }
    }
}

/// `[start, end)` of a text, in Unicode scalars.
public struct CharRange: Sendable, Hashable, Codable {
    public var start: Int
    public var end: Int

    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }
}
