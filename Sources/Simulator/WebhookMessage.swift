import Crypto
import Foundation

/// One webhook message as OpenAI sends it: a thin event body and its `webhook-id`, both fixed
/// across the retries and duplicates of the message; only `webhook-timestamp` and the signature
/// change per attempt.
struct WebhookMessage: Sendable, Equatable {
    /// `wh_…`, the idempotency key a receiver dedupes on.
    let webhookID: String
    /// `evt_…`, the event's own id in the body.
    let eventID: String
    /// `response.completed`, …, or another type for an ignorable event.
    let type: String
    /// `data.id`: the response (or batch, job, eval run) the event is about.
    let dataID: String
    /// Unix seconds when the object reached the state, not when the message is sent.
    let createdAt: Int

    /// The body, byte for byte as OpenAI's thin payloads are laid out.
    var body: String {
        #"{"id":"\#(eventID)","object":"event","created_at":\#(createdAt),"type":"\#(type)","data":{"id":"\#(dataID)"}}"#
    }

    /// The headers of an attempt made at `timestamp` (unix seconds), signed with `key`.
    func headers(timestamp: Int, key: Data) -> [(name: String, value: String)] {
        [
            ("webhook-id", webhookID), ("webhook-timestamp", String(timestamp)),
            ("webhook-signature", Self.signature(id: webhookID, timestamp: String(timestamp), body: Data(body.utf8), key: key)),
            ("content-type", "application/json"), ("user-agent", "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"),
        ]
    }

    /// Standard Webhooks v1: `v1,` + base64 of HMAC-SHA256(key, "id.timestamp.body").
    static func signature(id: String, timestamp: String, body: Data, key: Data) -> String {
        let signed = Data("\(id).\(timestamp).".utf8) + body
        let code = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
        return "v1," + Data(code).base64EncodedString()
    }

    /// The event type for a response that ended in `status`; nil while it has not ended.
    static func eventType(for status: SimulatedResponse.Status) -> String? {
        switch status {
        case .queued, .inProgress: return nil
        case .completed: return "response.completed"
        case .failed: return "response.failed"
        case .cancelled: return "response.cancelled"
        case .incomplete: return "response.incomplete"
        }
    }
}
