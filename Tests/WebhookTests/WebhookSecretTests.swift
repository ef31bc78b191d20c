import Foundation
import KilnDomain
import KilnWebhooks
import Testing

/// A secret that must be refused, and a fragment of it that the error message must not repeat.
struct BadSecret: Sendable, CustomTestStringConvertible {
    var name: String
    var text: String
    var fragment: String

    var testDescription: String { name }

    static let all = [
        BadSecret(name: "empty", text: "", fragment: ""),
        BadSecret(name: "whitespace only", text: "   \n", fragment: ""),
        BadSecret(name: "prefix alone", text: "whsec_", fragment: ""),
        BadSecret(name: "no prefix", text: "RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=", fragment: "RdvaYFYU"),
        BadSecret(name: "signature prefix instead", text: "v1,RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=", fragment: "RdvaYFYU"),
        BadSecret(name: "characters outside the alphabet", text: "whsec_!!!!", fragment: "!!!!"),
        BadSecret(name: "URL-safe alphabet", text: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24-Aj40c=", fragment: "RdvaYFYU"),
        BadSecret(name: "bad padding", text: "whsec_a", fragment: "whsec_a"),
        BadSecret(name: "missing padding", text: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c", fragment: "RdvaYFYU"),
        BadSecret(name: "whitespace inside", text: "whsec_RdvaYFYUXuIFuEbv ZHwMfYFhUf7aMYjYcmM24+Aj40c=", fragment: "ZHwMfYFh"),
        BadSecret(name: "8-byte key", text: "whsec_S2lsblRlc3Q=", fragment: "S2lsblRl"),
    ]
}

@Suite("Webhook signing secrets")
struct WebhookSecretTests {
    @Test(arguments: BadSecret.all)
    func badSecretsAreRefusedNamingTheSourceButNotTheSecret(_ bad: BadSecret) {
        let error = #expect(throws: KilnError.self) { try WebhookSecret(bad.text, source: "webhooks.secret_file") }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("webhooks.secret_file") == true)
        if !bad.fragment.isEmpty {
            #expect(error?.message.contains(bad.fragment) == false)
        }
    }

    @Test func surroundingWhitespaceFromAFileIsTrimmed() throws {
        let vector = WebhookVector.sdk
        let secret = try WebhookSecret("  " + vector.secret + "\n", source: "webhooks.secret_file")
        #expect(secret.signature(id: vector.id, timestamp: vector.timestamp, body: vector.payload) == vector.signature)
    }

    @Test func aSixteenByteKeyIsTheShortestAccepted() throws {
        _ = try WebhookSecret("whsec_" + Data(repeating: 3, count: 16).base64EncodedString(), source: "OPENAI_WEBHOOK_SECRET")
        #expect(throws: KilnError.self) {
            try WebhookSecret("whsec_" + Data(repeating: 3, count: 15).base64EncodedString(), source: "OPENAI_WEBHOOK_SECRET")
        }
    }

    @Test func theSecretNeverPrints() {
        let secret = WebhookVector.sdk.webhookSecret
        var dumped = ""
        dump(secret, to: &dumped)
        for text in ["\(secret)", String(describing: secret), String(reflecting: secret), dumped, "\([secret])"] {
            #expect(text.contains("whsec_…(redacted)"))
            #expect(!text.contains("RdvaYFYU"))
        }
    }
}
