import Foundation

/// A run's id: `run_` followed by a 26-character, time-sortable unique id (ULID layout).
///
/// Ids sort by creation time as plain text, so `ORDER BY id` is creation order in every
/// database, and an application in any language can mint one (any unique text is accepted).
public struct RunID: Hashable, Sendable, Codable, CustomStringConvertible, Comparable {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
    public static func < (a: RunID, b: RunID) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// A new id for a run created at `now`: 48 bits of milliseconds, then 80 random bits,
    /// in Crockford base32.
    public static func make(at now: Date) -> RunID {
        var generator = SystemRandomNumberGenerator()
        return make(at: now, using: &generator)
    }

    public static func make(at now: Date, using generator: inout some RandomNumberGenerator) -> RunID {
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var chars: [Character] = []
        chars.reserveCapacity(26)
        for shift in stride(from: 45, through: 0, by: -5) {  // 10 characters of time
            chars.append(alphabet[Int((millis >> UInt64(shift)) & 31)])
        }
        for _ in 0..<16 {  // 16 characters (80 bits) of randomness
            chars.append(alphabet[Int(generator.next() & 31)])
        }
        return RunID("run_" + String(chars))
    }
}

/// The provider's response id (`resp_…`).
public struct ResponseID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The application's tenant id, as text (integer and UUID ids of any app fit).
public struct TenantID: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// The record a run is about, e.g. `document:42`.
public struct Subject: Hashable, Sendable {
    public var type: String
    public var id: String
    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    /// Parses `TYPE:ID`; both parts must be non-empty.
    public init(parsing text: String) throws(KilnError) {
        guard let colon = text.firstIndex(of: ":"),
            colon != text.startIndex, text.index(after: colon) != text.endIndex
        else {
            throw KilnError(.invalidArgument, "subject must be TYPE:ID (e.g. document:42), got \"\(text.prefix(80))\"")
        }
        self.init(type: String(text[..<colon]), id: String(text[text.index(after: colon)...]))
    }
}
