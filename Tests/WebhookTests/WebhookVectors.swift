import Foundation
import KilnWebhooks
import Testing

/// A signed delivery from a published test vector (reference §5), bytes exactly as signed.
struct WebhookVector: Sendable, CustomTestStringConvertible {
    var name: String
    var secret: String
    var id: String
    var timestamp: String
    var payload: [UInt8]
    var signature: String

    var testDescription: String { name }
    var now: Date { Date(timeIntervalSince1970: TimeInterval(Int(timestamp)!)) }
    var webhookSecret: WebhookSecret { try! WebhookSecret(secret, source: "test") }

    /// openai-python `tests/lib/test_webhooks.py` (the same constants are in openai-node).
    static let sdk = WebhookVector(
        name: "OpenAI SDK",
        secret: "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=",
        id: "wh_685c059ae39c8190af8c71ed1022a24d",
        timestamp: "1750861210",
        payload: Array(
            #"{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}"#
                .utf8),
        signature: "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY="
    )

    /// standard-webhooks `libraries/python/tests/test_webhooks.py::test_sign_function`.
    static let standardWebhooks = WebhookVector(
        name: "Standard Webhooks",
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp: "1614265330",
        payload: Array(#"{"test": 2432232314}"#.utf8),
        signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )

    /// A non-ASCII body (`café`), derived from openai-python `tests/lib/test_webhook_signature.py`.
    static let nonASCII = WebhookVector(
        name: "non-ASCII body",
        secret: "whsec_c3ludGhldGljLXdlYmhvb2stc2VjcmV0",
        id: "evt_synthetic",
        timestamp: "1750000000",
        payload: Array(#"{"synthetic": "café"}"#.utf8),
        signature: "v1,qzuLCtHIXTcfJr8yxIcKC07cOqyNSgdmZRut6AFa+RA="
    )

    static let all = [sdk, standardWebhooks, nonASCII]
}

extension Result where Success == Void {
    /// The refusal, or nil when the delivery verified.
    var refusal: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
