import KilnDomain

/// Drafts of replies to support tickets: SupportDesk's own feature `support_reply`.
///
/// Input: `{"ticket_subject": string, "customer_message": string, "tone": "friendly" | "formal"
/// (optional, default friendly)}`. A draft is read by an agent before it goes to the customer,
/// so every run requires review, and replies stay short (800 output tokens).
public struct SupportReply: Feature {
    public enum Tone: String, CaseIterable, Sendable {
        case friendly, formal

        var instruction: String {
            switch self {
            case .friendly: "friendly: warm, plain words, no jargon"
            case .formal: "formal: courteous and precise"
            }
        }
    }

    /// The longest ticket subject accepted, in characters.
    public static let maxSubjectChars = 200

    /// The `feature` column value of every draft.
    public static let featureName = "support_reply"

    public var name: String { Self.featureName }
    public let promptVersion = "support_reply/v1"
    public let policyOverrides: JSONValue = ["requires_review": true, "max_output_tokens": 800]
    /// The company whose support team the drafts speak for.
    public let company: String

    public init(company: String) {
        self.company = company
    }

    public func validate(input: JSONValue, limits: InputLimits) throws(KilnError) {
        let ticket = try parse(input)
        let total = ticket.subject.count + ticket.message.count
        if total > limits.maxInputChars {
            throw KilnError(
                .inputTooLarge,
                "support_reply input.ticket_subject and input.customer_message have \(total) characters; "
                    + "limits.max_input_chars is \(limits.maxInputChars)")
        }
    }

    public func request(for input: JSONValue, policy: RunPolicy) throws(KilnError) -> GenerationRequest {
        let ticket = try parse(input)
        let instructions =
            "You draft replies for the support team of \(company). Write the reply an agent will review and send "
            + "to the customer who wrote the ticket below. Tone: \(ticket.tone.instruction). Answer what the customer asks; "
            + "do not promise refunds, dates or fixes that the ticket does not mention; if information is missing, ask for it. "
            + "Sign as \"The \(company) support team\"."
        let ticketText = "Ticket subject: \(ticket.subject)\n\nCustomer message:\n\(ticket.message)"
        return GenerationRequest(
            model: policy.model, instructions: instructions, input: .messages([PromptMessage(role: .user, content: ticketText)]),
            maxOutputTokens: policy.maxOutputTokens, completionWindow: policy.completionWindow, outputFormat: outputFormat)
    }

    private struct Ticket {
        let subject: String
        let message: String
        let tone: Tone
    }

    private func parse(_ input: JSONValue) throws(KilnError) -> Ticket {
        let known = ["ticket_subject", "customer_message", "tone"]
        guard let object = input.objectValue else {
            throw KilnError(.invalidInput, "support_reply input must be a JSON object with \(known.joined(separator: ", "))")
        }
        for key in object.keys.sorted() where !known.contains(key) {
            throw KilnError(
                .invalidInput, "support_reply input has unknown key \"\(key.prefix(64))\"; known keys: \(known.joined(separator: ", "))")
        }
        let subject = try text(object, "ticket_subject")
        if subject.count > Self.maxSubjectChars || subject.contains(where: \.isNewline) {
            throw KilnError(
                .invalidInput, "support_reply input.ticket_subject must be one line of at most \(Self.maxSubjectChars) characters")
        }
        let message = try text(object, "customer_message")
        var tone = Tone.friendly
        if let value = object["tone"], value != .null {
            guard let raw = value.stringValue, let parsed = Tone(rawValue: raw) else {
                throw KilnError(
                    .invalidInput, "support_reply input.tone must be \"friendly\" or \"formal\", got \(value.jsonText.prefix(40))")
            }
            tone = parsed
        }
        return Ticket(subject: subject, message: message, tone: tone)
    }

    private func text(_ object: [String: JSONValue], _ key: String) throws(KilnError) -> String {
        guard let value = object[key], value != .null else {
            throw KilnError(.invalidInput, "support_reply input.\(key) is required")
        }
        guard let text = value.stringValue else {
            throw KilnError(.invalidInput, "support_reply input.\(key) must be a string, got \(value.jsonText.prefix(40))")
        }
        if text.allSatisfy(\.isWhitespace) {
            throw KilnError(.invalidInput, "support_reply input.\(key) is empty")
        }
        return text
    }
}
