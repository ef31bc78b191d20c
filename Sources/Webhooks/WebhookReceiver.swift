import Foundation
import HTTPTypes
import Hummingbird
import KilnDomain
import Logging
import Metrics
import NIOCore

/// `POST /webhooks/openai`: verifies a delivery, records it once, and makes the run it names
/// due for its poller. An event is a hint, never the result: the poller retrieves the
/// response and finalizes the run through the same guarded transitions as any poll.
///
/// Answers fast and says little: a forged, stale or malformed delivery gets 400/401 with no
/// detail and changes nothing; a body over ``maxBodyBytes`` gets 413; an event Kiln does not
/// act on (another type, a response that is not Kiln's, a dashboard test) and a replay of a
/// `webhook-id` get 2xx, so the provider never retries them for 72 hours; a database that
/// does not answer gets 503, so the provider tries again later. A Swift app can mount the
/// route in its own router with ``add(to:path:)``.
public struct WebhookReceiver: Sendable {
    public let verifier: WebhookVerifier
    public let store: any RunStore
    public let logger: Logger
    /// OpenAI's events are a few hundred bytes.
    public var maxBodyBytes = 64 * 1024
    /// The clock the timestamp window and the records use.
    public var now: @Sendable () -> Date = { Date() }

    public init(verifier: WebhookVerifier, store: any RunStore, logger: Logger) {
        self.verifier = verifier
        self.store = store
        self.logger = logger
    }

    /// What the receiver answers, and what it did.
    public enum Answer: Sendable, Equatable {
        case recorded(WebhookReceipt)
        case refused(WebhookVerifier.Refusal)
        case unavailable

        /// The `outcome` label of `kiln_webhook_deliveries_total`.
        public var outcome: String {
            switch self {
            case .recorded(.madeDue): "made_due"
            case .recorded(.unmatched): "unmatched"
            case .recorded(.duplicate): "duplicate"
            case .recorded(.ignored): "ignored"
            case .recorded(.batchMadeDue): "made_due"
            case .refused: "refused"
            case .unavailable: "unavailable"
            }
        }

        public var status: HTTPResponse.Status {
            switch self {
            case .recorded: .ok
            case .refused(.missingHeader), .refused(.emptyID), .refused(.malformedTimestamp): .badRequest
            case .refused: .unauthorized
            case .unavailable: .serviceUnavailable
            }
        }
    }

    /// Handles one delivery: headers by name (any case), the raw body bytes as received.
    public func receive(headers: (String) -> String?, body: [UInt8]) async -> Answer {
        let at = now()
        switch verifier.verify(
            id: headers("webhook-id"), timestamp: headers("webhook-timestamp"), signature: headers("webhook-signature"), body: body,
            now: at)
        {
        case .failure(let refusal):
            logger.info("webhook refused", metadata: [LogKey.outcome: "\(refusal)"])
            return .refused(refusal)
        case .success: break
        }
        let webhookID = headers("webhook-id") ?? ""
        var logger = logger
        logger[metadataKey: LogKey.webhookID] = "\(webhookID.prefix(100))"
        guard let event = WebhookEvent.parse(body) else {
            // Signed by the provider, so not an attack: acknowledge it, or it is retried for days.
            logger.warning("webhook body is not an event; ignored")
            return .recorded(.ignored)
        }
        logger[metadataKey: LogKey.eventType] = "\(event.type.prefix(100))"
        let delivery = WebhookDelivery(
            webhookID: String(webhookID.prefix(255)), eventType: String(event.type.prefix(100)),
            responseID: event.isResponseEvent ? event.responseID : nil, receivedAt: at)
        do {
            var receipt = try await store.recordWebhook(delivery, now: at)
            // A batch of the batch lane that ended: polled now instead of at its next poll.
            if receipt == .ignored, let batchID = event.batchID, let batches = store as? any BatchStore,
                try await batches.makeBatchDue(providerBatchID: batchID, now: at)
            {
                receipt = .batchMadeDue
            }
            logger.debug("webhook recorded", metadata: [LogKey.outcome: "\(receipt)"])
            return .recorded(receipt)
        } catch {
            logger.warning("webhook not recorded: the database did not answer", metadata: [LogKey.error: "\(error)"])
            return .unavailable
        }
    }

    /// Mounts `POST path` on `router`.
    public func add<Context: RequestContext>(to router: Router<Context>, path: RouterPath = "/webhooks/openai") {
        router.post(path) { request, _ -> Response in
            let buffer: ByteBuffer
            do {
                buffer = try await request.body.collect(upTo: maxBodyBytes)
            } catch {
                return Self.response(.contentTooLarge)
            }
            let headers = request.headers
            let answer = await receive(
                headers: { name in HTTPField.Name(name).flatMap { headers[$0] } }, body: Array(buffer.readableBytesView))
            Counter(label: "kiln_webhook_deliveries_total", dimensions: [("outcome", answer.outcome)]).increment()
            return Self.response(answer.status)
        }
    }

    private static func response(_ status: HTTPResponse.Status) -> Response {
        let body = status == .ok ? #"{"received":true}"# : #"{"error":"\#(status.code)"}"#
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
