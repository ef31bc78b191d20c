import KilnDomain

/// The body of `POST /runs/:runID/review`: `{"decision": "accept" | "discard" | "edit", "text"?}`.
struct ReviewBody: Decodable, Sendable {
    var decision: String
    var text: String?

    /// The decision, with the agent's text for `edit`.
    func reviewDecision() throws -> ReviewDecision {
        switch decision {
        case "accept": return .accept
        case "discard": return .discard
        case "edit":
            guard let text else { throw APIError.badRequest("text is required when decision is \"edit\"") }
            return .edit(.text(text))
        default:
            throw APIError.badRequest("decision must be \"accept\", \"discard\" or \"edit\", got \"\(decision.prefix(40))\"")
        }
    }

    static let shape = #"{"decision": "accept" | "discard" | "edit", "text": string (for edit)}"#
}
