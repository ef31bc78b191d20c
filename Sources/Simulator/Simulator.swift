import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A local server that speaks OpenAI's Responses API (`/v1/responses…`) with the shapes of
/// the official spec, moves background responses through `queued` → `in_progress` → a
/// terminal state over simulated time, and injects faults on demand.
///
/// Tests, benchmarks and the demo run against it. `/_sim/stats` and `/_sim/runs/{run_id}`
/// expose what it saw, for checking Kiln against the provider's own record. With
/// ``SimulatorConfiguration/webhooks`` set it also announces each background response's end
/// with a signed webhook, as OpenAI does.
public final class Simulator: Sendable {
    let state: SimulatorState
    let webhooks: WebhookSender
    private let logger: Logger

    public init(configuration: SimulatorConfiguration, logger: Logger = Logger(label: "kiln.simulator")) {
        let state = SimulatorState(configuration: configuration)
        self.state = state
        self.logger = logger
        webhooks = WebhookSender(configuration: { state.configuration }, now: { Simulator.now() }, logger: logger)
    }

    /// The Hummingbird application, bound to `host:port` (port 0 picks a free one;
    /// `onRunning` gets the bound port), with the webhook sender running beside the server.
    public func application(
        host: String = "127.0.0.1", port: Int, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        var quiet = logger
        quiet.logLevel = .warning
        return Application(
            router: makeRouter(), configuration: .init(address: .hostname(host, port: port), serverName: "kiln-simulator"),
            services: [webhooks], onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) }, logger: quiet)
    }

    /// Starts the simulator on a free loopback port for the duration of `body`, then shuts
    /// it down gracefully. Throws ``WebhookSettingsError`` at once for invalid webhook settings.
    public func withRunning<T: Sendable>(_ body: @Sendable (_ baseURL: String) async throws -> T) async throws -> T {
        try state.configuration.webhooks?.validate()
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = application(port: 0) { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                defer { continuation.finish() }
                try await group.run()
                return nil
            }
            var ports = stream.makeAsyncIterator()
            guard let port = await ports.next() else {
                _ = try await tasks.next()  // the group's error, if it failed to start
                throw CancellationError()
            }
            do {
                let result = try await body("http://127.0.0.1:\(port)/v1")
                await group.triggerGracefulShutdown()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
        }
    }

    // MARK: - Control, for tests and benchmarks in the same process

    /// The next calls get these faults, in order.
    public func inject(_ faults: [SimulatorFault]) { state.inject(faults) }

    public func reconfigure(_ change: (inout SimulatorConfiguration) -> Void) { state.update(change) }

    /// What the webhook sender did so far (all zero without ``SimulatorConfiguration/webhooks``).
    public var webhookCounters: WebhookCounters { webhooks.counters }

    /// Create bodies received, when `recordCreateBodies` is on.
    public var recordedCreateBodies: [Data] { state.counters.recordedBodies }

    /// What the simulator saw: the body of `GET /_sim/stats`.
    public func statistics() -> [String: Any] {
        let counters = state.counters
        var statistics: [String: Any] = [
            "creates": counters.creates, "creates_by_run": counters.createsByRun,
            "duplicate_creates": counters.createsByRun.values.reduce(0) { $0 + max(0, $1 - 1) },
            "retrieves": counters.retrieves, "cancels": counters.cancels, "deletes": counters.deletes,
            "faults": counters.faults, "responses": state.responseCount,
            "retrieves_by_response": counters.retrievesByResponse,
            "file_uploads": counters.fileUploads, "batches": counters.batches, "batches_by_kiln_batch": counters.batchesByKilnBatch,
        ]
        if state.configuration.webhooks != nil { statistics["webhooks"] = webhooks.counters.dictionary }
        return statistics
    }

    /// Every response's timeline in real unix seconds (created, left the queue, finished)
    /// with its status now, its run (`metadata.kiln_run_id`) and the retrieves it got: what
    /// benchmarks measure lag and calls per run against.
    public func timeline() -> [[String: Any]] {
        let now = Self.now()
        return state.everyResponse().map { response, retrieves in
            [
                "id": response.id, "run_id": response.metadata["kiln_run_id"].map { $0 as Any } ?? NSNull(),
                "background": response.background, "status": response.status(at: now).rawValue,
                "created_at": response.createdAt, "starts_at": response.startsAt, "ends_at": response.endsAt,
                "finished_at": response.finishedAt(now).map { $0 as Any } ?? NSNull(), "retrieves": retrieves,
            ]
        }
    }

    /// The responses created for a run, as they stand now (ignoring retention).
    public func responses(ofRun runID: String) -> [[String: Any]] {
        let now = Date().timeIntervalSince1970
        return state.responses(ofRun: runID).map { $0.json(at: now) }
    }

    /// When a response reached its terminal state (real time), if it has: the precise
    /// "provider finished" mark for measuring how soon Kiln noticed. An observer's view: it
    /// stays readable after the response is deleted or past retention (Kiln deletes a
    /// cancelled response at once, and a test reading this must not race that).
    public func finishTime(ofResponse id: String) -> Date? {
        state.observedResponse(id)?.finishedAt(Self.now()).map { Date(timeIntervalSince1970: $0) }
    }

    // MARK: - Routes

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/responses") { request, _ in try await self.create(request) }
        router.get("/v1/responses/:id") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                if request.uri.queryParameters.get("stream") == "true" {
                    return Self.error(
                        400, "Streaming is not supported by the Kiln simulator.", type: "invalid_request_error", param: "stream", code: nil)
                }
                guard case .found(let response) = self.state.lookup(id, now: Self.now(), countRetrieve: true) else {
                    return Self.notFound(id)
                }
                return Self.json(response.json(at: Self.now()))
            }
        }
        router.post("/v1/responses/:id/cancel") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                switch self.state.cancel(id, now: Self.now()) {
                case .notFound: return Self.notFound(id)
                case .notBackground:
                    return Self.error(400, "Cannot cancel a synchronous response.", type: "invalid_request_error", param: nil, code: nil)
                case .cancelled(let response):
                    if let cancelledAt = response.cancelledAt { self.webhooks.responseCancelled(id, at: cancelledAt) }
                    return Self.json(response.json(at: Self.now()))
                }
            }
        }
        router.delete("/v1/responses/:id") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                guard self.state.delete(id, now: Self.now()) else { return Self.notFound(id) }
                return Self.json(["id": id, "object": "response", "deleted": true])
            }
        }
        addBatchRoutes(to: router)
        router.get("/_sim/stats") { _, _ in Self.json(self.statistics()) }
        router.get("/_sim/responses") { _, _ in Self.json(["data": self.timeline()]) }
        router.get("/_sim/runs/:run_id") { _, context in
            Self.json(["data": self.responses(ofRun: context.parameters.get("run_id") ?? "")])
        }
        return router
    }

    /// Authentication, then a fault if one is due, then `answer`.
    func withFaults(_ request: Request, _ answer: () async throws -> Response) async throws -> Response {
        if let key = state.configuration.apiKey {
            let bearer = request.headers[.authorization]
            let azure = request.headers[HTTPField.Name("api-key")!]
            guard bearer == "Bearer \(key)" || azure == key else {
                let given = azure ?? bearer.map { String($0.dropFirst("Bearer ".count)) } ?? ""
                let shown =
                    state.configuration.quotesKeyInErrors || given.count < 12
                    ? given : given.prefix(3) + String(repeating: "*", count: given.count - 7) + given.suffix(4)
                return Self.error(
                    401, "Incorrect API key provided: \(shown). You can find your API key at https://platform.openai.com/account/api-keys.",
                    type: "invalid_request_error", param: nil, code: "invalid_api_key")
            }
        }
        switch state.drawFault() {
        case nil:
            return try await answer()
        case .rateLimited?:
            var response = Self.error(
                429, "Rate limit reached for requests. Please try again shortly.", type: "requests", param: nil, code: "rate_limit_exceeded"
            )
            if Bool.random() {
                response.headers[HTTPField.Name("retry-after")!] = "1"
            } else {
                response.headers[HTTPField.Name("retry-after-ms")!] = "250"
            }
            return response
        case .serverError?:
            return Self.error(500, "The server had an error while processing your request.", type: "server_error", param: nil, code: nil)
        case .unavailableHTML?:
            let html =
                "<html><head><title>503 Service Temporarily Unavailable</title></head><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
            return Response(
                status: .serviceUnavailable, headers: [.contentType: "text/html"], body: .init(byteBuffer: ByteBuffer(string: html)))
        case .slow?:
            try? await Task.sleep(for: .milliseconds(Int(state.configuration.slowSeconds * 1000)))
            return try await answer()
        case .drop?:
            _ = try await answer()  // the provider did the work; the answer is lost
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(contentLength: 100) { _ in
                    throw SimulatedDrop()
                })
        case .truncated?:
            let full = try await answer()
            let collector = CollectingWriter()
            try await full.body.write(collector)
            let collected = collector.buffer
            let cut = collected.getSlice(at: collected.readerIndex, length: collected.readableBytes / 2) ?? ByteBuffer()
            return Response(status: full.status, headers: [.contentType: "application/json"], body: .init(byteBuffer: cut))
        }
    }

    private func create(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 32 << 20)
        return try await withFaults(request) { () async throws -> Response in
            let data = Data(body.readableBytesView)
            let parsed: SimulatorState.CreateRequest
            switch CreateValidation.parse(data) {
            case .failure(let problem):
                return Self.error(400, problem.message, type: "invalid_request_error", param: problem.param, code: problem.code)
            case .success(let value): parsed = value
            }
            // Account and capacity refusals, as the provider documents them (nothing is created or billed).
            if parsed.input.contains("[sim:no_quota]") {
                return Self.error(
                    429, "You exceeded your current quota, please check your plan and billing details.", type: "insufficient_quota",
                    param: nil, code: "insufficient_quota")
            }
            if parsed.serviceTier == "flex", parsed.input.contains("[sim:flex_busy]") || self.state.drawFlexBusy() {
                return Self.error(
                    429, "Resource unavailable: flex capacity is exhausted, try again later.", type: "invalid_request_error", param: nil,
                    code: "resource_unavailable")
            }
            let early = self.webhooks.drawsEarly(parsed)
            let response = self.state.create(parsed, now: Self.now(), endsAtOnce: early)
            self.webhooks.responseCreated(response, early: early)
            if early {
                // The event goes first; the answer is still the snapshot of when the response
                // was accepted (`queued`), as a fast generation's would be.
                await self.webhooks.deliverEarly(response.id)
                return Self.json(response.json(at: response.createdAt.nextDown))
            }
            if !parsed.background {
                // A blocking create holds the connection for the whole generation.
                let wait = max(0, response.endsAt - Self.now())
                try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
            }
            return Self.json(response.json(at: Self.now()))
        }
    }

    // MARK: - Answers

    static func now() -> Double { Date().timeIntervalSince1970 }

    static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(
            status: .ok, headers: [.contentType: "application/json", HTTPField.Name("x-request-id")!: "req_sim"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The spec's error envelope: `{"error": {"message", "type", "param", "code"}}`.
    static func error(_ status: Int, _ message: String, type: String, param: String?, code: String?) -> Response {
        let object: [String: Any] = [
            "error": [
                "message": message, "type": type, "param": param.map { $0 as Any } ?? NSNull(), "code": code.map { $0 as Any } ?? NSNull(),
            ]
        ]
        var response = json(object)
        response.status = HTTPResponse.Status(code: status)
        return response
    }

    static func notFound(_ id: String) -> Response {
        error(404, "Response with id '\(id.prefix(100))' not found.", type: "invalid_request_error", param: nil, code: nil)
    }
}

struct SimulatedDrop: Error {}

/// Collects a response body, to cut it for the `truncated` fault. Used by one task at a time.
final class CollectingWriter: ResponseBodyWriter {
    var buffer = ByteBuffer()
    func write(_ buffer: ByteBuffer) async throws {
        var copy = buffer
        self.buffer.writeBuffer(&copy)
    }
    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
