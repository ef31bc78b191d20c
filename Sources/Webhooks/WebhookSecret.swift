import Crypto
import Foundation
import KilnDomain

/// An OpenAI webhook signing secret: `whsec_` + strict standard base64 of the key bytes.
///
/// It prints as `whsec_…(redacted)` through `description`, `debugDescription` and `dump`, so
/// it cannot reach a log line or an error message by accident.
///
/// Unlike the official SDKs, which decode leniently (dropping characters outside the alphabet)
/// and accept an empty secret, a secret here must be canonical standard base64 decoding to at
/// least 16 bytes: a typo'd secret would otherwise become a short key that a forger can guess.
public struct WebhookSecret: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The fewest key bytes accepted (OpenAI's secrets decode to 32).
    static let minimumKeyBytes = 16

    private let key: SymmetricKey

    /// Refuses (with `.invalidConfiguration`, naming `source` — e.g. "OPENAI_WEBHOOK_SECRET" or
    /// "webhooks.secret_file" — and never echoing any part of the secret) an empty or
    /// whitespace-only secret, a missing `whsec_` prefix, base64 that is not strict (characters
    /// outside the standard alphabet, bad padding, whitespace inside), and a key shorter than
    /// 16 bytes. Surrounding whitespace/newline (as read from a file) is trimmed first.
    public init(_ text: String, source: String) throws(KilnError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw KilnError(.invalidConfiguration, "\(source) is empty; set it to the endpoint's signing secret (whsec_…)")
        }
        guard trimmed.hasPrefix("whsec_") else {
            throw KilnError(.invalidConfiguration, "\(source) must start with whsec_ (the endpoint's signing secret as OpenAI shows it)")
        }
        let encoded = String(trimmed.dropFirst("whsec_".count))
        // Decoding then re-encoding to the same text accepts only canonical standard base64:
        // the alphabet, `=` padding to a multiple of 4, nothing inside, zero unused bits.
        guard let decoded = Data(base64Encoded: encoded), decoded.base64EncodedString() == encoded else {
            throw KilnError(.invalidConfiguration, "\(source) must be whsec_ followed by standard base64; the text after whsec_ is not")
        }
        guard decoded.count >= Self.minimumKeyBytes else {
            throw KilnError(
                .invalidConfiguration,
                "\(source) decodes to a \(decoded.count)-byte key; at least \(Self.minimumKeyBytes) bytes are required"
            )
        }
        key = SymmetricKey(data: decoded)
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (for tests and tools).
    public func signature(id: String, timestamp: String, body: [UInt8]) -> String {
        let code = authenticationCode(for: Self.signedContent(id: id, timestamp: timestamp, body: body))
        return "v1," + Data(code).base64EncodedString()
    }

    /// Whether any of `candidates` (decoded `v1` signatures) is this secret's HMAC of `content`.
    ///
    /// The HMAC is computed once; each comparison takes the same time whatever bytes differ.
    func matchesAny(of candidates: [[UInt8]], content: [UInt8]) -> Bool {
        let expected = authenticationCode(for: content)
        return candidates.contains { expected == $0 }
    }

    /// What OpenAI signs: `{webhook-id}.{webhook-timestamp}.{raw body}`, the headers' text as received.
    static func signedContent(id: String, timestamp: String, body: [UInt8]) -> [UInt8] {
        var content: [UInt8] = []
        content.reserveCapacity(id.utf8.count + timestamp.utf8.count + body.count + 2)
        content.append(contentsOf: id.utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: timestamp.utf8)
        content.append(UInt8(ascii: "."))
        content.append(contentsOf: body)
        return content
    }

    private func authenticationCode(for content: [UInt8]) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: content, using: key)
    }

    public var description: String { "whsec_…(redacted)" }
    public var debugDescription: String { description }
    /// No children, so `dump` and mirrors show nothing of the key.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
