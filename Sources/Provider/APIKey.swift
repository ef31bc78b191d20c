import Foundation

/// The provider API key. It prints as `<redacted>` everywhere, so it cannot reach a log
/// line, an error message, an event or the database by accident.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let secret: String

    public init(_ secret: String) {
        self.secret = secret.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var isEmpty: Bool { secret.isEmpty }

    /// `text` with every occurrence of the key replaced by `<redacted>`: for what a provider
    /// writes back (an error message that quotes the key it was given) before Kiln stores or
    /// logs it.
    public func redacting(_ text: String) -> String {
        guard secret.count >= 4, text.contains(secret) else { return text }
        return text.replacingOccurrences(of: secret, with: "<redacted>")
    }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
