import KilnDomain

/// The body of `POST /tickets/:ticketID/reply-drafts`: `{"subject", "message", "tone"?}`.
struct DraftBody: Decodable, Sendable {
    var subject: String?
    var message: String?
    var tone: String?

    /// The run's input for ``SupportReply``, which checks it (a missing field is reported
    /// there, under the input key it fills).
    var input: JSONValue {
        var object: [String: JSONValue] = [:]
        object["ticket_subject"] = subject.map(JSONValue.string)
        object["customer_message"] = message.map(JSONValue.string)
        object["tone"] = tone.map(JSONValue.string)
        return .object(object)
    }

    static let shape = #"{"subject": string, "message": string, "tone": "friendly" | "formal" (optional)}"#
}
