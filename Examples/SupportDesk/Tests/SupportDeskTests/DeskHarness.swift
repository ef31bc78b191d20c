import AsyncHTTPClient
import Foundation
import KilnDomain
import KilnProvider
import KilnSimulator
import Logging
import NIOCore
import NIOHTTP1
import SupportDeskApp
import Testing

/// SupportDesk running for real: a fresh SQLite file, Kiln's simulator on loopback (runs take
/// tenths of a second), and the app's whole service group (HTTP server, submitter, poller) on
/// a free port, reached over HTTP like any client would.
struct DeskHarness: Sendable {
    let server: SupportDeskServer
    let simulator: Simulator
    let port: Int

    static let apiKey = "sk-test-supportdesk-0123456789abcdef"
    static let directory = UserDirectory([
        "ada-token": DeskUser(id: "ada", tenant: TenantID("acme"), role: .agent),
        "vic-token": DeskUser(id: "vic", tenant: TenantID("acme"), role: .viewer),
        "gus-token": DeskUser(id: "gus", tenant: TenantID("globex"), role: .agent),
    ])

    /// An answer: its status, headers and JSON body (`null` when there is none).
    struct Answer: Sendable {
        let status: Int
        let headers: HTTPHeaders
        let json: JSONValue

        /// `error.message` of an error body.
        var errorMessage: String { json["error"]?["message"]?.stringValue ?? "" }
    }

    /// Runs `body` against a started app, then shuts the app and the simulator down gracefully.
    static func with(_ body: @Sendable (DeskHarness) async throws -> Void) async throws {
        var simulatorConfiguration = SimulatorConfiguration()
        simulatorConfiguration.queueWaitMin = 0.02
        simulatorConfiguration.queueWaitMax = 0.1
        simulatorConfiguration.generationMedian = 0.3
        simulatorConfiguration.generationSigma = 0.3
        simulatorConfiguration.apiKey = apiKey
        simulatorConfiguration.recordCreateBodies = true
        let simulator = Simulator(configuration: simulatorConfiguration)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("supportdesk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        try await simulator.withRunning { base in
            let configuration = fastConfiguration(database: folder.appendingPathComponent("desk.sqlite").path, base: base)
            var logger = Logger(label: "supportdesk-test")
            logger.logLevel = .warning
            let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let server = try await SupportDeskServer.make(
                configuration: configuration, apiKey: APIKey(apiKey), directory: directory, logger: logger,
                onServerRunning: { portContinuation.yield($0) })
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    defer { portContinuation.finish() }
                    try await server.run()
                }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next() else {
                    try await tasks.waitForAll()
                    throw HarnessError.serverDidNotStart
                }
                do {
                    try await body(DeskHarness(server: server, simulator: simulator, port: port))
                } catch {
                    await server.shutdown()
                    throw error
                }
                await server.shutdown()
                try await tasks.waitForAll()
            }
        }
    }

    /// Kiln polling fast enough for runs of tenths of a second (as Kiln's own worker tests do).
    static func fastConfiguration(database: String, base: String) -> SupportDeskConfiguration {
        var configuration = SupportDeskConfiguration(databasePath: database, owner: "test:1")
        configuration.port = 0
        configuration.stopsOnSignals = false
        configuration.kiln.provider.baseURL = base
        configuration.kiln.provider.requestTimeoutSeconds = 2
        configuration.kiln.poller.initialDelaySeconds = 0.05
        configuration.kiln.poller.minIntervalSeconds = 0.02
        configuration.kiln.poller.maxIntervalSeconds = 0.3
        configuration.kiln.worker.shutdownGraceSeconds = 5
        return configuration
    }

    /// Sends a request as the holder of `token` (none: no `Authorization` header).
    func send(
        _ method: HTTPMethod, _ path: String, token: String?, json: String? = nil, headers: [(String, String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let value = body.readableBytes == 0 ? JSONValue.null : try JSONDecoder().decode(JSONValue.self, from: Data(body.readableBytesView))
        return Answer(status: Int(response.status.code), headers: response.headers, json: value)
    }

    /// Starts a draft for `ticket` as `token`'s holder.
    func draft(
        ticket: String = "T-1001", token: String = "ada-token", subject: String = "Refund for a broken widget",
        message: String = "My widget arrived cracked. Can I get a replacement?", tone: String? = nil,
        idempotencyKey: String? = nil
    ) async throws -> Answer {
        var body: [String: JSONValue] = ["subject": .string(subject), "message": .string(message)]
        if let tone { body["tone"] = .string(tone) }
        return try await send(
            .POST, "/tickets/\(ticket)/reply-drafts", token: token, json: JSONValue.object(body).jsonText,
            headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [])
    }

    /// Reads the run until it is finished, as a client would, for at most `timeout` seconds.
    func waitUntilFinished(_ runID: String, token: String = "ada-token", timeout: Double = 20) async throws -> Answer {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let answer = try await send(.GET, "/runs/\(runID)", token: token)
            let status = answer.json["status"]?.stringValue.flatMap(RunStatus.init(rawValue:))
            if answer.status != 200 || status?.isTerminal == true || ContinuousClock.now > deadline { return answer }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

enum HarnessError: Error {
    case serverDidNotStart
}
