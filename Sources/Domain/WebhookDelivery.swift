import Foundation

/// A verified webhook delivery, as the receiver records it: the `webhook-id` makes it
/// idempotent; the response id is only a hint (the poller retrieves the response).
public struct WebhookDelivery: Sendable, Hashable {
    public var webhookID: String
    public var eventType: String
    /// `data.id` of a `response.*` event.
    public var responseID: ResponseID?
    public var receivedAt: Date
    /// Until when a replay of the same `webhook-id` is recognized (OpenAI retries for up to 72 h).
    public var expiresAt: Date

    /// How long deliveries are remembered: OpenAI's 72 hours of retries, and an hour more.
    public static let memorySeconds: Double = 73 * 3600

    public init(webhookID: String, eventType: String, responseID: ResponseID?, receivedAt: Date, expiresAt: Date? = nil) {
        self.webhookID = webhookID
        self.eventType = eventType
        self.responseID = responseID
        self.receivedAt = receivedAt
        self.expiresAt = expiresAt ?? receivedAt.addingTimeInterval(Self.memorySeconds)
    }
}

/// What recording a delivery did.
public enum WebhookReceipt: Sendable, Hashable {
    /// The same `webhook-id` was recorded before: nothing happens twice.
    case duplicate
    /// The response is an in-flight run's: the run is due for its poller now.
    case madeDue(RunID)
    /// No in-flight run has this response (yet): the poller looks at it at the provider.
    case unmatched
    /// Not a response event Kiln acts on (another type, no response id): acknowledged only.
    case ignored
    /// A `batch.*` event of a batch of the batch lane: the batch is due for its poller now.
    case batchMadeDue
}
