/// The provider API key. It prints as `<redacted>` everywhere, so it cannot reach a log
/// line, an error message, an event or the database by accident.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let secret: String

    public init(_ secret: String) {
        self.secret = secret.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public var isEmpty: Bool { secret.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

import Foundation
