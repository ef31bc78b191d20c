import Foundation
import KilnDomain

/// A delivery's body: the event (a hint — the receiver retrieves the response for the truth).
///
/// OpenAI's payload is thin: besides the event's own id, type and time it names only the
/// response (`data.id`), so the receiver must `GET` the response to learn its status and output.
public struct WebhookEvent: Sendable, Hashable {
    /// The types OpenAI sends for a `background: true` response reaching a final status.
    public static let responseEventTypes: Set<String> = [
        "response.completed", "response.failed", "response.cancelled", "response.incomplete",
    ]

    /// The types OpenAI sends for a batch reaching a final status.
    public static let batchEventTypes: Set<String> = ["batch.completed", "batch.failed", "batch.expired", "batch.cancelled"]

    /// The event's id (`evt_…`), not the `webhook-id` header.
    public var id: String
    /// `response.completed`, …, or anything else (ignored by Kiln): the event set keeps growing.
    public var type: String
    /// Unix seconds when the response reached that state (not the delivery time).
    public var createdAt: Int
    /// `data.id` when ``type`` is one of the four response events and the id is not empty.
    public var responseID: ResponseID?
    /// `data.id` when ``type`` is one of the four batch events and the id is not empty.
    public var batchID: String?

    public init(id: String, type: String, createdAt: Int, responseID: ResponseID?, batchID: String? = nil) {
        self.id = id
        self.type = type
        self.createdAt = createdAt
        self.responseID = responseID
        self.batchID = batchID
    }

    /// The four background-response events: response.completed/failed/cancelled/incomplete.
    public var isResponseEvent: Bool { Self.responseEventTypes.contains(type) }

    /// Parses the JSON body; nil when it is not a JSON object with string `id`, string `type`,
    /// integer `created_at`, object `data` with string `id`. `object` is optional. Unknown extra
    /// fields are fine.
    public static func parse(_ body: [UInt8]) -> WebhookEvent? {
        guard let payload = try? JSONDecoder().decode(Payload.self, from: Data(body)) else { return nil }
        let isResponse = responseEventTypes.contains(payload.type)
        let dataID = payload.data.id
        return WebhookEvent(
            id: payload.id,
            type: payload.type,
            createdAt: payload.createdAt,
            responseID: isResponse && !dataID.isEmpty ? ResponseID(dataID) : nil,
            batchID: batchEventTypes.contains(payload.type) && !dataID.isEmpty ? dataID : nil
        )
    }
}

/// The fields Kiln reads from a delivery; any others are ignored.
private struct Payload: Decodable {
    struct EventData: Decodable {
        let id: String
    }

    let id: String
    let type: String
    let createdAt: Int
    let data: EventData

    enum CodingKeys: String, CodingKey {
        case id, type, data
        case createdAt = "created_at"
    }
}
