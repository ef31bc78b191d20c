import Foundation
import KilnWebhooks
import Testing

/// A delivery built from the SDK vector with one thing forged or malformed, and the refusal it must get.
struct ForgedDelivery: Sendable, CustomTestStringConvertible {
    var name: String
    var id: String? = WebhookVector.sdk.id
    var timestamp: String? = WebhookVector.sdk.timestamp
    var signature: String? = WebhookVector.sdk.signature
    var body: [UInt8] = WebhookVector.sdk.payload
    var refusal: WebhookVerifier.Refusal

    var testDescription: String { name }

    /// The SDK vector's signature recomputed for other headers or body, with `secret` (the SDK's by default).
    static func signed(
        id: String = WebhookVector.sdk.id, timestamp: String = WebhookVector.sdk.timestamp, body: [UInt8] = WebhookVector.sdk.payload,
        secret: WebhookSecret = WebhookVector.sdk.webhookSecret
    ) -> String {
        secret.signature(id: id, timestamp: timestamp, body: body)
    }

    static let sdk = WebhookVector.sdk
    static let otherSecret = try! WebhookSecret("whsec_" + Data(repeating: 1, count: 32).base64EncodedString(), source: "test")
    static let reserialized = Array(
        #"{"id":"evt_685c059ae3a481909bdc86819b066fb6","object":"event","created_at":1750861210,"type":"response.completed","data":{"id":"resp_123"}}"#
            .utf8)
    static let oneByteChanged = Array(
        String(decoding: sdk.payload, as: UTF8.self).replacingOccurrences(of: "resp_123", with: "resp_124").utf8)
    static let zeroSignature = "v1," + Data(count: 32).base64EncodedString()
    /// `count` well-formed `v1` entries that match nothing.
    static func wrongEntries(_ count: Int) -> String {
        Array(repeating: zeroSignature, count: count).joined(separator: " ")
    }

    static let all: [ForgedDelivery] = [
        ForgedDelivery(name: "signature of zero bytes", signature: zeroSignature, refusal: .noMatchingSignature),
        ForgedDelivery(name: "signed with another secret", signature: signed(secret: otherSecret), refusal: .noMatchingSignature),
        ForgedDelivery(
            name: "stale, correctly signed", timestamp: "1750860909", signature: signed(timestamp: "1750860909"), refusal: .stale),
        ForgedDelivery(
            name: "future, correctly signed", timestamp: "1750861511", signature: signed(timestamp: "1750861511"), refusal: .future),
        ForgedDelivery(
            name: "timestamp with a fraction", timestamp: "1750861210.5", signature: signed(timestamp: "1750861210.5"),
            refusal: .malformedTimestamp),
        ForgedDelivery(
            name: "timestamp with a leading +", timestamp: "+1750861210", signature: signed(timestamp: "+1750861210"),
            refusal: .malformedTimestamp),
        ForgedDelivery(
            name: "timestamp with a leading space", timestamp: " 1750861210", signature: signed(timestamp: " 1750861210"),
            refusal: .malformedTimestamp),
        ForgedDelivery(name: "timestamp with a trailing space", timestamp: "1750861210 ", refusal: .malformedTimestamp),
        ForgedDelivery(name: "timestamp with letters", timestamp: "1750861210abc", refusal: .malformedTimestamp),
        ForgedDelivery(name: "timestamp of letters", timestamp: "now", refusal: .malformedTimestamp),
        ForgedDelivery(name: "empty timestamp", timestamp: "", refusal: .malformedTimestamp),
        ForgedDelivery(name: "negative timestamp", timestamp: "-1750861210", refusal: .malformedTimestamp),
        ForgedDelivery(name: "timestamp in non-ASCII digits", timestamp: "١٧٥٠٨٦١٢١٠", refusal: .malformedTimestamp),
        ForgedDelivery(
            name: "timestamp too long to be seconds", timestamp: String(repeating: "9", count: 40), refusal: .malformedTimestamp),
        ForgedDelivery(name: "missing webhook-signature", signature: nil, refusal: .missingHeader("webhook-signature")),
        ForgedDelivery(name: "missing webhook-timestamp", timestamp: nil, refusal: .missingHeader("webhook-timestamp")),
        ForgedDelivery(name: "missing webhook-id", id: nil, refusal: .missingHeader("webhook-id")),
        ForgedDelivery(name: "empty webhook-id", id: "", signature: signed(id: ""), refusal: .emptyID),
        ForgedDelivery(name: "re-serialized body", body: reserialized, refusal: .noMatchingSignature),
        ForgedDelivery(name: "one body byte changed", body: oneByteChanged, refusal: .noMatchingSignature),
        ForgedDelivery(name: "signature for another webhook-id", signature: signed(id: "wh_other"), refusal: .noMatchingSignature),
        ForgedDelivery(name: "v1a entry only", signature: "v1a," + String(sdk.signature.dropFirst(3)), refusal: .noMatchingSignature),
        ForgedDelivery(name: "bare base64 without v1,", signature: String(sdk.signature.dropFirst(3)), refusal: .noMatchingSignature),
        ForgedDelivery(name: "non-base64 entry", signature: "v1,!!not*base64!!", refusal: .noMatchingSignature),
        ForgedDelivery(name: "truncated signature", signature: String(sdk.signature.dropLast(4)), refusal: .noMatchingSignature),
        ForgedDelivery(name: "empty signature header", signature: "", refusal: .noMatchingSignature),
        ForgedDelivery(name: "non-UTF-8 body signed for another body", body: [0x7B, 0xFF, 0xFE, 0x7D], refusal: .noMatchingSignature),
        ForgedDelivery(
            name: "valid entry in a header over 4096 bytes", signature: sdk.signature + " " + wrongEntries(100),
            refusal: .noMatchingSignature),
        ForgedDelivery(
            name: "valid entry after ten others", signature: wrongEntries(10) + " " + sdk.signature, refusal: .noMatchingSignature),
        ForgedDelivery(
            name: "webhook-id over 4096 bytes", id: String(repeating: "w", count: 5000),
            signature: signed(id: String(repeating: "w", count: 5000)), refusal: .noMatchingSignature
        ),
    ]
}

@Suite("Forged and malformed webhook deliveries are refused")
struct ForgedDeliveryTests {
    @Test(arguments: ForgedDelivery.all)
    func isRefused(_ delivery: ForgedDelivery) {
        let verifier = WebhookVerifier(secrets: [WebhookVector.sdk.webhookSecret])
        let result = verifier.verify(
            id: delivery.id, timestamp: delivery.timestamp, signature: delivery.signature, body: delivery.body, now: WebhookVector.sdk.now
        )
        #expect(result.refusal == delivery.refusal)
    }

    @Test func theFirstTenEntriesSeparatedBySpacesOrTabsAreAllConsidered() {
        let header = ForgedDelivery.wrongEntries(9) + "\t" + WebhookVector.sdk.signature
        let verifier = WebhookVerifier(secrets: [WebhookVector.sdk.webhookSecret])
        let result = verifier.verify(
            id: WebhookVector.sdk.id, timestamp: WebhookVector.sdk.timestamp, signature: header, body: WebhookVector.sdk.payload,
            now: WebhookVector.sdk.now
        )
        #expect(result.refusal == nil)
    }
}
