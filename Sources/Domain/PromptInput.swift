/// What the model reads: one text, or a conversation of messages (the `input` of a create).
public enum PromptInput: Sendable, Hashable {
    case text(String)
    case messages([PromptMessage])

    /// Characters of text in the whole input.
    /// Bytes of text, a cheap stand-in for characters when estimating tokens.
    public var utf8Count: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .messages(let messages): messages.reduce(0) { $0 + $1.content.utf8.count }
        }
    }

    public var characterCount: Int {
        switch self {
        case .text(let text): text.count
        case .messages(let messages): messages.reduce(0) { $0 + $1.content.count }
        }
    }
}

/// One message of a conversation input (`EasyInputMessage` in the spec).
public struct PromptMessage: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case system, developer, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
}
