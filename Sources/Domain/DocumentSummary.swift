/// Summaries of long documents: the built-in feature `document_summary`.
///
/// Input: `{"text": string (required), "length": "short" | "medium" | "long" (default
/// short), "audience": string (optional)}`. A text longer than one request
/// (`limits.max_input_chars`) is summarized as a tree of child runs (``DocumentTree``).
public struct DocumentSummary: Feature {
    public enum Length: String, CaseIterable, Sendable {
        case short, medium, long

        public var instruction: String {
            switch self {
            case .short: "in 3 to 5 sentences"
            case .medium: "in 2 or 3 paragraphs"
            case .long: "in a structured summary of up to one page, with headings"
            }
        }
    }

    public let name = "document_summary"
    public let promptVersion = "document_summary/v1"

    public init() {}

    /// A document to summarize, as the input gives it.
    public struct Document: Sendable, Hashable {
        public var text: String
        public var length: Length
        public var audience: String?

        public init(text: String, length: Length, audience: String?) {
            self.text = text
            self.length = length
            self.audience = audience
        }
    }

    public func validate(input: JSONValue, limits: InputLimits) throws(KilnError) {
        _ = try document(in: input, limits: limits)
    }

    /// The input's document, checked (and its size against `limits`, when given).
    public func document(in input: JSONValue, limits: InputLimits?) throws(KilnError) -> Document {
        let (text, length, audience) = try parse(input, limits: limits)
        return Document(text: text, length: length, audience: audience)
    }

    /// Whether `input` holds a text longer than one request: a tree parent's input.
    public static func isLong(_ input: JSONValue, limits: InputLimits) -> Bool {
        guard let text = input.objectValue?["text"]?.stringValue else { return false }
        return text.unicodeScalars.count > limits.maxInputChars
    }

    public func request(for input: JSONValue, policy: RunPolicy) throws(KilnError) -> GenerationRequest {
        let (text, length, audience) = try parse(input, limits: nil)
        var instructions =
            "Summarize the document the user provides \(length.instruction). "
            + "Keep facts, figures and names exact; do not add information that is not in the document."
        if let audience { instructions += " Write for this audience: \(audience)." }
        return GenerationRequest(
            model: policy.model, instructions: instructions, input: .text(text),
            maxOutputTokens: policy.maxOutputTokens, completionWindow: policy.completionWindow)
    }

    private func parse(_ input: JSONValue, limits: InputLimits?) throws(KilnError) -> (String, Length, String?) {
        guard let object = input.objectValue else {
            throw KilnError(.invalidInput, "document_summary input must be a JSON object")
        }
        for key in object.keys where !["text", "length", "audience"].contains(key) {
            throw KilnError(
                .invalidInput, "document_summary input has unknown key \"\(key.prefix(64))\"; known keys: text, length, audience")
        }
        guard let textValue = object["text"] else {
            throw KilnError(.invalidInput, "document_summary input.text is required")
        }
        guard let text = textValue.stringValue else {
            throw KilnError(.invalidInput, "document_summary input.text must be a string")
        }
        if text.allSatisfy(\.isWhitespace) {
            throw KilnError(.invalidInput, "document_summary input.text is empty")
        }
        if let limits {
            let count = text.unicodeScalars.count
            if count > limits.maxDocumentChars {
                throw KilnError(
                    .inputTooLarge,
                    "document_summary input.text has \(count) characters; limits.max_document_chars is \(limits.maxDocumentChars)")
            }
        }
        var length = Length.short
        if let value = object["length"] {
            guard let raw = value.stringValue, let parsed = Length(rawValue: raw) else {
                throw KilnError(
                    .invalidInput,
                    "document_summary input.length must be \"short\", \"medium\" or \"long\", got \(value.jsonText.prefix(40))")
            }
            length = parsed
        }
        var audience: String?
        if let value = object["audience"], value != .null {
            guard let raw = value.stringValue, raw.count <= 200 else {
                throw KilnError(.invalidInput, "document_summary input.audience must be a string of at most 200 characters")
            }
            audience = raw
        }
        return (text, length, audience)
    }
}
