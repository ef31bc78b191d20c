import Foundation

/// Verifies a delivery as OpenAI signs it (Standard Webhooks v1): raw body bytes, webhook-id,
/// webhook-timestamp (±tolerance seconds, inclusive, strictly ASCII digits), webhook-signature
/// with one or more space-separated entries; an entry `v1,<base64>` is checked against every
/// configured secret (current and previous, for rotation), comparing HMAC bytes in constant
/// time; other versions (e.g. `v1a,`) and undecodable entries are ignored.
///
/// The checks run in the SDK's order — headers, id, timestamp, then the HMAC — so a replayed
/// or stale delivery costs no hashing. Work is bounded: at most ``maximumEntries`` signature
/// entries are considered, and an id or signature header longer than ``maximumHeaderLength``
/// is refused without hashing. Unlike the SDKs, a bare base64 entry without `v1,` is ignored.
public struct WebhookVerifier: Sendable {
    /// Why a delivery was refused; none of the cases carries the secret, body or signature.
    public enum Refusal: Error, Sendable, Equatable {
        /// The named header ("webhook-id", "webhook-timestamp" or "webhook-signature") is absent.
        case missingHeader(String)
        case emptyID
        /// The timestamp is not 1 to 15 ASCII digits.
        case malformedTimestamp
        /// Older than the tolerance.
        case stale
        /// Newer than the tolerance.
        case future
        case noMatchingSignature
    }

    /// The most signature entries looked at; OpenAI sends one, or two while a secret rotates.
    public static let maximumEntries = 10
    /// The longest id or signature header hashed or parsed, in UTF-8 bytes.
    public static let maximumHeaderLength = 4096

    public let secrets: [WebhookSecret]
    /// Seconds a delivery's timestamp may be before or after `now` (the SDKs' default: 300).
    public let tolerance: Int

    /// `secrets` are the current and, during a rotation, the previous secret; at least one.
    public init(secrets: [WebhookSecret], tolerance: Int = 300) {
        precondition(!secrets.isEmpty, "a webhook verifier needs at least one secret")
        precondition(tolerance >= 0, "webhook timestamp tolerance must not be negative")
        self.secrets = secrets
        self.tolerance = tolerance
    }

    /// Headers looked up case-insensitively by the caller; nil = absent.
    public func verify(id: String?, timestamp: String?, signature: String?, body: [UInt8], now: Date) -> Result<Void, Refusal> {
        guard let signature else { return .failure(.missingHeader("webhook-signature")) }
        guard let timestamp else { return .failure(.missingHeader("webhook-timestamp")) }
        guard let id else { return .failure(.missingHeader("webhook-id")) }
        guard !id.isEmpty else { return .failure(.emptyID) }
        guard let seconds = Self.parseTimestamp(timestamp) else { return .failure(.malformedTimestamp) }
        let nowSeconds = Self.wholeSeconds(now)
        if nowSeconds - seconds > tolerance { return .failure(.stale) }
        if seconds - nowSeconds > tolerance { return .failure(.future) }
        guard id.utf8.count <= Self.maximumHeaderLength, signature.utf8.count <= Self.maximumHeaderLength else {
            return .failure(.noMatchingSignature)
        }
        let candidates = Self.candidates(in: signature)
        guard !candidates.isEmpty else { return .failure(.noMatchingSignature) }
        let content = WebhookSecret.signedContent(id: id, timestamp: timestamp, body: body)
        guard secrets.contains(where: { $0.matchesAny(of: candidates, content: content) }) else {
            return .failure(.noMatchingSignature)
        }
        return .success(())
    }

    /// Unix seconds from 1–15 ASCII digits (no sign, space or fraction); nil otherwise.
    static func parseTimestamp(_ text: String) -> Int? {
        let bytes = Array(text.utf8)
        guard (1...15).contains(bytes.count), bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// The decoded `v1` signatures among the first ``maximumEntries`` space- or tab-separated entries.
    static func candidates(in header: String) -> [[UInt8]] {
        header.utf8
            .split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            .prefix(maximumEntries)
            .compactMap { entry -> [UInt8]? in
                guard entry.starts(with: "v1,".utf8) else { return nil }
                guard let decoded = Data(base64Encoded: Data(entry.dropFirst(3))) else { return nil }
                return Array(decoded)
            }
    }

    /// `now` truncated to whole seconds (as the SDKs do), clamped so odd dates cannot trap.
    private static func wholeSeconds(_ now: Date) -> Int {
        let seconds = now.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite else { return 0 }
        return Int(min(max(seconds, -1e15), 1e15))
    }
}
