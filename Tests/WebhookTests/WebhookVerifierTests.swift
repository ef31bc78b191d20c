import Foundation
import KilnWebhooks
import Testing

@Suite("Webhook verification against published vectors, time windows and rotation")
struct WebhookVerifierTests {
    let sdk = WebhookVector.sdk

    func verify(
        _ vector: WebhookVector, timestamp: String? = nil, signature: String? = nil, tolerance: Int = 300, now: Date? = nil
    ) -> WebhookVerifier.Refusal? {
        WebhookVerifier(secrets: [vector.webhookSecret], tolerance: tolerance)
            .verify(
                id: vector.id, timestamp: timestamp ?? vector.timestamp, signature: signature ?? vector.signature,
                body: vector.payload, now: now ?? vector.now
            )
            .refusal
    }

    @Test(arguments: WebhookVector.all)
    func publishedVectorsVerify(_ vector: WebhookVector) {
        #expect(verify(vector) == nil)
    }

    @Test(arguments: WebhookVector.all)
    func signingReproducesEachVectorExactly(_ vector: WebhookVector) {
        #expect(vector.webhookSecret.signature(id: vector.id, timestamp: vector.timestamp, body: vector.payload) == vector.signature)
    }

    @Test func theNonASCIIBodyIsSignedAsUTF8() {
        let hex = WebhookVector.nonASCII.payload.map { String(format: "%02x", $0) }.joined()
        #expect(hex == "7b2273796e746865746963223a2022636166c3a9227d")
    }

    @Test func oneValidEntryAmongInvalidOnesPasses() {
        #expect(verify(sdk, signature: "v1,invalid_signature " + sdk.signature) == nil)
        #expect(verify(sdk, signature: "v1a,invalid " + sdk.signature + " v1,AAAA") == nil)
    }

    @Test func onlyInvalidEntriesFail() {
        #expect(verify(sdk, signature: "v1,invalid_signature1 v1,invalid_signature2") == .noMatchingSignature)
    }

    @Test func timestampsOutsideTheWindowFailBeforeTheSignatureIsChecked() {
        #expect(verify(sdk, timestamp: "1750860810") == .stale)  // 400 s old
        #expect(verify(sdk, timestamp: "1750861610") == .future)  // 400 s ahead
    }

    @Test func aWiderToleranceLetsTheTimeCheckPassAndTheSignatureFail() {
        #expect(verify(sdk, timestamp: "1750860810", tolerance: 600) == .noMatchingSignature)
        #expect(verify(sdk, timestamp: "1750861610", tolerance: 600) == .noMatchingSignature)
    }

    @Test(arguments: [(-300, nil), (300, nil), (-301, .future), (301, .stale)] as [(Int, WebhookVerifier.Refusal?)])
    func theWindowIsInclusiveAtThreeHundredSeconds(offset: Int, expected: WebhookVerifier.Refusal?) {
        let timestamp = String(Int(sdk.timestamp)! - offset)
        let signed = sdk.webhookSecret.signature(id: sdk.id, timestamp: timestamp, body: sdk.payload)
        #expect(verify(sdk, timestamp: timestamp, signature: signed) == expected)
    }

    @Test func nowIsTruncatedToWholeSeconds() {
        let timestamp = String(Int(sdk.timestamp)! - 300)
        let signed = sdk.webhookSecret.signature(id: sdk.id, timestamp: timestamp, body: sdk.payload)
        let now = sdk.now.addingTimeInterval(0.9)
        #expect(verify(sdk, timestamp: timestamp, signature: signed, now: now) == nil)
    }

    @Test func aDeliverySignedWithThePreviousSecretPassesOnlyWhileItIsConfigured() throws {
        let previous = try WebhookSecret("whsec_" + Data(repeating: 7, count: 32).base64EncodedString(), source: "previous")
        let current = try WebhookSecret("whsec_" + Data(repeating: 9, count: 32).base64EncodedString(), source: "current")
        let signed = previous.signature(id: sdk.id, timestamp: sdk.timestamp, body: sdk.payload)
        func check(_ secrets: [WebhookSecret], _ signature: String) -> WebhookVerifier.Refusal? {
            WebhookVerifier(secrets: secrets).verify(
                id: sdk.id, timestamp: sdk.timestamp, signature: signature, body: sdk.payload, now: sdk.now
            )
            .refusal
        }
        #expect(check([current, previous], signed) == nil)
        #expect(check([previous, current], signed) == nil)
        #expect(check([current], signed) == .noMatchingSignature)
        // During OpenAI's overlap the header carries both signatures; either configured secret matches.
        let both = current.signature(id: sdk.id, timestamp: sdk.timestamp, body: sdk.payload) + " " + signed
        #expect(check([current], both) == nil)
        #expect(check([previous], both) == nil)
    }

    @Test func rawBodyBytesAreVerifiedEvenWhenTheyAreNotUTF8() {
        let body: [UInt8] = [0x7B, 0xFF, 0xFE, 0x7D]
        let signed = sdk.webhookSecret.signature(id: sdk.id, timestamp: sdk.timestamp, body: body)
        let result = WebhookVerifier(secrets: [sdk.webhookSecret])
            .verify(id: sdk.id, timestamp: sdk.timestamp, signature: signed, body: body, now: sdk.now)
        #expect(result.refusal == nil)
    }
}
