import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KilnDomain
import KilnSQLite
import KilnTestSupport
import KilnWebhooks
import Logging
import NIOCore
import Synchronization
import Testing

/// The receiver over HTTP, on a real SQLite store: what it answers, what it records, and
/// that a refused delivery changes nothing and the secret appears in no log line.
@Suite("Webhook receiver")
struct WebhookReceiverTests {
    let secretText = WebhookRig.secret()
    var secret: WebhookSecret { try! WebhookSecret(secretText, source: "test") }

    struct Delivery {
        var id = "wh_\(UUID().uuidString.prefix(12))"
        var timestamp = String(Int(Date().timeIntervalSince1970))
        var body: String
        var signature: String?

        init(type: String = "response.completed", response: String, signature: String? = nil) {
            body = #"{"id":"evt_1","object":"event","created_at":1750861210,"type":"\#(type)","data":{"id":"\#(response)"}}"#
            self.signature = signature
        }
    }

    /// Sends `deliveries` through the receiver's route; the statuses.
    func send(_ deliveries: [Delivery], store: any RunStore, logs: LogLines) async throws -> [HTTPResponse.Status] {
        let logger = Logger(label: "receiver") { _ in logs.handler }
        let receiver = WebhookReceiver(verifier: WebhookVerifier(secrets: [secret]), store: store, logger: logger)
        let router = Router()
        receiver.add(to: router)
        let app = Application(router: router)
        return try await app.test(.router) { client in
            var statuses: [HTTPResponse.Status] = []
            for delivery in deliveries {
                var headers: HTTPFields = [.contentType: "application/json"]
                headers[HTTPField.Name("Webhook-Id")!] = delivery.id
                headers[HTTPField.Name("WEBHOOK-TIMESTAMP")!] = delivery.timestamp
                headers[HTTPField.Name("webhook-signature")!] =
                    delivery.signature ?? secret.signature(id: delivery.id, timestamp: delivery.timestamp, body: Array(delivery.body.utf8))
                let status = try await client.execute(
                    uri: "/webhooks/openai", method: .post, headers: headers, body: ByteBuffer(string: delivery.body)
                ) { response in response.status }
                statuses.append(status)
            }
            return statuses
        }
    }

    @Test func aGenuineDeliveryMakesTheRunDueAndAReplayIsAcknowledgedOnly() async throws {
        let store = try await WebhookRig.store(.sqlite)
        let run = try await store.inFlightRun(response: "resp_live", firstPollAt: Date() + 600, now: Date())
        let logs = LogLines()
        let delivery = Delivery(response: "resp_live")
        let statuses = try await send(
            [delivery, delivery, Delivery(type: "batch.completed", response: "batch_1"), Delivery(response: "resp_abc123")],
            store: store, logs: logs)
        #expect(statuses == [.ok, .ok, .ok, .ok])
        let due = try #require(try await store.run(run.id, tenant: nil)?.nextPollAt)
        #expect(due <= Date(), "due now instead of in ten minutes")
        // The dashboard's test event (a response that is not Kiln's) waits for one look at the provider.
        let unmatched = try await store.claimUnmatchedWebhooks(owner: "p", limit: 10, leaseUntil: Date() + 30, now: Date())
        #expect(unmatched.map(\.responseID) == [ResponseID("resp_abc123")])
        #expect(!logs.text.contains(secretText.dropFirst(6)), "the secret is in no log line")
    }

    @Test func refusedDeliveriesChangeNothingAndSayLittle() async throws {
        let store = try await WebhookRig.store(.sqlite)
        let run = try #require(
            try await store.run(try await store.inFlightRun(response: "resp_live", firstPollAt: Date() + 600, now: Date()).id, tenant: nil))
        #expect(run.nextPollAt != nil)
        let logs = LogLines()
        let genuine = Delivery(response: "resp_live")
        var forged = genuine
        forged.signature = "v1," + Data(count: 32).base64EncodedString()
        var stale = Delivery(response: "resp_live")
        stale.timestamp = String(Int(Date().timeIntervalSince1970) - 301)
        var future = Delivery(response: "resp_live")
        future.timestamp = String(Int(Date().timeIntervalSince1970) + 400)
        var noID = Delivery(response: "resp_live")
        noID.id = ""
        var tampered = genuine
        tampered.signature = secret.signature(id: genuine.id, timestamp: genuine.timestamp, body: Array(genuine.body.utf8))
        tampered.body = genuine.body.replacingOccurrences(of: "resp_live", with: "resp_evil")
        var huge = Delivery(response: String(repeating: "x", count: 70_000))
        huge.signature = "v1,AAAA"
        let statuses = try await send([forged, stale, future, noID, tampered, huge], store: store, logs: logs)
        #expect(statuses == [.unauthorized, .unauthorized, .unauthorized, .badRequest, .unauthorized, .contentTooLarge])
        #expect(try await store.run(run.id, tenant: nil)?.nextPollAt == run.nextPollAt, "no state change")
        #expect(try await store.claimUnmatchedWebhooks(owner: "p", limit: 10, leaseUntil: Date() + 30, now: Date()).isEmpty)
        // Nothing was remembered either: the genuine delivery with the same id still counts.
        #expect(try await send([genuine], store: store, logs: logs) == [.ok])
        #expect(try #require(try await store.run(run.id, tenant: nil)?.nextPollAt) <= Date())
        #expect(!logs.text.contains(secretText.dropFirst(6)))
    }
}

/// Log lines captured in memory, at every level.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    var handler: some LogHandler { Capture(lines: self) }

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Capture: LogHandler {
        let lines: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            lines.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
        }
    }
}
