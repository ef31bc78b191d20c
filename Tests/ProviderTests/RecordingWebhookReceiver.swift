import Crypto
import Foundation
import Hummingbird
import Logging
import Synchronization

/// A receiver for the simulator's webhooks that records each delivery as it came (headers,
/// raw body, arrival time) and answers 500 to the first `failFirst` of them.
final class RecordingWebhookReceiver: Sendable {
    struct Delivery: Sendable {
        /// Lower-cased names.
        let headers: [String: String]
        let body: String
        let receivedAt: Date

        var webhookID: String { headers["webhook-id"] ?? "" }

        var event: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
        var type: String { event["type"] as? String ?? "" }
        var dataID: String { (event["data"] as? [String: Any])?["id"] as? String ?? "" }

        /// Checks `webhook-signature` the Standard Webhooks way, independently of the simulator's code.
        func isSigned(with secret: String) -> Bool {
            guard let id = headers["webhook-id"], let timestamp = headers["webhook-timestamp"],
                let signatures = headers["webhook-signature"], let key = Data(base64Encoded: String(secret.dropFirst("whsec_".count)))
            else { return false }
            let code = HMAC<SHA256>.authenticationCode(for: Data("\(id).\(timestamp).\(body)".utf8), using: SymmetricKey(data: key))
            let expected = "v1," + Data(code).base64EncodedString()
            return signatures.split(separator: " ").contains { $0 == expected }
        }
    }

    private let state: Mutex<(deliveries: [Delivery], failuresLeft: Int)>

    init(failFirst: Int = 0) {
        state = Mutex(([], failFirst))
    }

    var deliveries: [Delivery] { state.withLock { $0.deliveries } }

    /// The deliveries as `scripts/webhook_unwrap.py` reads them.
    func json() throws -> Data {
        try JSONSerialization.data(withJSONObject: deliveries.map { ["headers": $0.headers, "body": $0.body] })
    }

    /// Runs the receiver on a free loopback port for the duration of `body`, which gets its URL.
    func withRunning<T: Sendable>(_ body: @Sendable (_ url: String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/webhooks/openai") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName.lowercased()] = field.value }
            let delivery = Delivery(headers: headers, body: String(buffer: bytes), receivedAt: Date())
            let fails = self.state.withLock { state -> Bool in
                state.deliveries.append(delivery)
                guard state.failuresLeft > 0 else { return false }
                state.failuresLeft -= 1
                return true
            }
            return Response(status: fails ? .internalServerError : .ok)
        }
        var logger = Logger(label: "test.webhook-receiver")
        logger.logLevel = .critical  // cancelling the server at the end logs an error
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                defer { continuation.finish() }
                try await app.run()
            }
            defer { tasks.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            return try await body("http://127.0.0.1:\(port)/webhooks/openai")
        }
    }
}
