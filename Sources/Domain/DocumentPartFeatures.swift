/// The map step of a long document's tree: one chunk, summarized in detail.
///
/// Input (written by Kiln on the child it creates): `{"text": string, "part": i, "parts": N}`,
/// 1-based. The summary keeps names, figures and order; it is merged with the others later.
public struct DocumentPartSummary: Feature {
    public let name = "document_summary_part"
    public let promptVersion = "document_summary_part/v1"

    public init() {}

    public func validate(input: JSONValue, limits: InputLimits) throws(KilnError) {
        _ = try parse(input, limits: limits)
    }

    public func request(for input: JSONValue, policy: RunPolicy) throws(KilnError) -> GenerationRequest {
        let (text, part, parts) = try parse(input, limits: nil)
        let instructions =
            "The user provides part \(part) of \(parts) of one long document, in order. Write a detailed summary of this part "
            + "only, in at most \(DocumentMergeSummary.words(policy)) words: keep names, numbers, dates and events exact and in "
            + "the order they appear, and do not add anything that is not in the text. It will be merged with the summaries "
            + "of the other parts."
        return GenerationRequest(
            model: policy.model, instructions: instructions, input: .text(text), maxOutputTokens: policy.maxOutputTokens,
            completionWindow: policy.completionWindow)
    }

    private func parse(_ input: JSONValue, limits: InputLimits?) throws(KilnError) -> (String, Int, Int) {
        guard let object = input.objectValue else { throw KilnError(.invalidInput, "\(name) input must be a JSON object") }
        for key in object.keys where !["text", "part", "parts"].contains(key) {
            throw KilnError(.invalidInput, "\(name) input has unknown key \"\(key.prefix(64))\"; known keys: text, part, parts")
        }
        guard let text = object["text"]?.stringValue, !text.isEmpty else {
            throw KilnError(.invalidInput, "\(name) input.text must be a non-empty string")
        }
        guard let part = object["part"]?.intValue, let parts = object["parts"]?.intValue, part >= 1, part <= parts else {
            throw KilnError(.invalidInput, "\(name) input.part and input.parts must be integers with 1 ≤ part ≤ parts")
        }
        if let limits, text.unicodeScalars.count > limits.maxInputChars {
            throw KilnError(
                .inputTooLarge,
                "\(name) input.text has \(text.unicodeScalars.count) characters; limits.max_input_chars is \(limits.maxInputChars)")
        }
        return (text, part, parts)
    }
}

/// The reduce step of a long document's tree: consecutive partial summaries merged, in order.
///
/// Input: `{"parts": [{"label": "parts 1–18 of 500", "text": …}, …], "final": bool,
/// "length": …, "audience": …, "missing": ["…"]}`. The final reduce writes the document's
/// summary, shaped by the parent's `length` and `audience`, and names any missing ranges.
public struct DocumentMergeSummary: Feature {
    public let name = "document_summary_merge"
    public let promptVersion = "document_summary_merge/v1"

    public init() {}

    struct Merge {
        var parts: [(label: String, text: String)]
        var final: Bool
        var length: DocumentSummary.Length
        var audience: String?
        var missing: [String]
    }

    public func validate(input: JSONValue, limits: InputLimits) throws(KilnError) {
        let merge = try parse(input)
        let total = merge.parts.reduce(0) { $0 + $1.text.unicodeScalars.count }
        if total > limits.maxInputChars {
            throw KilnError(
                .inputTooLarge, "\(name) input.parts have \(total) characters; limits.max_input_chars is \(limits.maxInputChars)")
        }
    }

    public func request(for input: JSONValue, policy: RunPolicy) throws(KilnError) -> GenerationRequest {
        let merge = try parse(input)
        var instructions: String
        if merge.final {
            instructions =
                "The user provides summaries of consecutive parts of one long document, in document order, each labelled "
                + "with the parts it covers. Write the summary of the whole document \(merge.length.instruction). Keep facts, "
                + "figures and names exact; do not add information that is not in the summaries."
            if let audience = merge.audience { instructions += " Write for this audience: \(audience)." }
        } else {
            instructions =
                "The user provides summaries of consecutive parts of one long document, in document order, each labelled "
                + "with the parts it covers. Merge them into one detailed summary of those parts, in order, in at most "
                + "\(Self.words(policy)) words: keep names, numbers, dates and events exact, and do not add anything."
        }
        if !merge.missing.isEmpty {
            instructions +=
                " These parts of the document could not be summarized and are missing: "
                + merge.missing.joined(separator: "; ") + ". Say that they are missing; do not guess their content."
        }
        let text = merge.parts.map { "[\($0.label)]\n\($0.text)" }.joined(separator: "\n\n")
        return GenerationRequest(
            model: policy.model, instructions: instructions, input: .text(text), maxOutputTokens: policy.maxOutputTokens,
            completionWindow: policy.completionWindow)
    }

    /// The length a part's or an intermediate merge's summary is asked for: well inside its
    /// `max_output_chars`, so the summary ends before Kiln would have to cut it.
    static func words(_ policy: RunPolicy) -> Int { max(50, policy.maxOutputChars / 8) }

    private func parse(_ input: JSONValue) throws(KilnError) -> Merge {
        guard let object = input.objectValue else { throw KilnError(.invalidInput, "\(name) input must be a JSON object") }
        let known = ["parts", "final", "length", "audience", "missing"]
        for key in object.keys where !known.contains(key) {
            throw KilnError(
                .invalidInput, "\(name) input has unknown key \"\(key.prefix(64))\"; known keys: \(known.joined(separator: ", "))")
        }
        guard let items = object["parts"]?.arrayValue, !items.isEmpty else {
            throw KilnError(.invalidInput, "\(name) input.parts must be a non-empty array")
        }
        var parts: [(label: String, text: String)] = []
        for (index, item) in items.enumerated() {
            guard let label = item.objectValue?["label"]?.stringValue, let text = item.objectValue?["text"]?.stringValue else {
                throw KilnError(.invalidInput, "\(name) input.parts[\(index)] must be {\"label\": string, \"text\": string}")
            }
            parts.append((label, text))
        }
        var length = DocumentSummary.Length.short
        if let value = object["length"], value != .null {
            guard let raw = value.stringValue, let parsed = DocumentSummary.Length(rawValue: raw) else {
                throw KilnError(.invalidInput, "\(name) input.length must be \"short\", \"medium\" or \"long\"")
            }
            length = parsed
        }
        let missing = (object["missing"]?.arrayValue ?? []).compactMap(\.stringValue)
        return Merge(
            parts: parts, final: object["final"] == .bool(true), length: length, audience: object["audience"]?.stringValue,
            missing: missing)
    }
}
