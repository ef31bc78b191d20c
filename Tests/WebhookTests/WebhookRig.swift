import Foundation
import Hummingbird
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnProvider
import KilnSQLite
import KilnSimulator
import KilnSubmitter
import KilnTestSupport
import KilnWebhooks
import KilnWorker
import Logging
import ServiceLifecycle
import Testing

/// A store, the simulator delivering signed webhooks to Kiln's receiver on loopback, and
/// executors (submitter + poller) working the runs with webhooks on.
struct WebhookRig {
    enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    static let apiKey = "sk-test-webhooks-0123456789abcdef"

    let store: any RunStore
    let simulator: Simulator
    let secret: String
    var configuration: KilnConfiguration

    static func secret() -> String {
        "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    static func store(_ backend: Backend) async throws -> any RunStore {
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-webhooks-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let store = try SQLiteRunStore(path: directory.appendingPathComponent("kiln.sqlite").path)
            try await store.migrate()
            return store
        case .postgres:
            let store = try PostgresRunStore(url: try await TestPostgres.freshDatabase())
            try await store.migrate()
            return store
        }
    }

    /// Runs `body` with the simulator and Kiln's receiver up; both stop afterwards.
    static func with(
        backend: Backend, webhooks change: @Sendable (inout WebhookSettings) -> Void = { _ in },
        simulator simulatorChange: @Sendable (inout SimulatorConfiguration) -> Void = { _ in },
        _ body: @Sendable (WebhookRig) async throws -> Void
    ) async throws {
        let store = try await store(backend)
        let secret = secret()
        let port = try FreePort.loopback()
        var settings = WebhookSettings(url: "http://127.0.0.1:\(port)/webhooks/openai", secret: secret)
        change(&settings)
        var simulated = SimulatorConfiguration()
        simulated.queueWaitMin = 0.02
        simulated.queueWaitMax = 0.1
        simulated.generationMedian = 0.4
        simulated.generationSigma = 0.3
        simulated.apiKey = apiKey
        simulated.webhooks = settings
        simulatorChange(&simulated)
        let simulator = Simulator(configuration: simulated)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let receiver = WebhookReceiver(
            verifier: WebhookVerifier(secrets: [try WebhookSecret(secret, source: "test")]), store: store, logger: logger)
        let router = Router()
        receiver.add(to: router)
        let application = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: logger)
        let group = ServiceGroup(services: [application], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { tasks.cancelAll() }
            try await simulator.withRunning { base in
                var configuration = KilnConfiguration()
                configuration.provider.baseURL = base
                // A create that times out under load is an ambiguous send: resubmitted, a second response.
                configuration.provider.requestTimeoutSeconds = 10
                configuration.poller.webhooksEnabled = true
                configuration.poller.initialDelaySeconds = 0.05
                configuration.poller.minIntervalSeconds = 0.05
                configuration.poller.safetyNetMaxSeconds = 3
                configuration.poller.leaseSeconds = 5
                configuration.submitter.leaseSeconds = 30
                configuration.submitter.maxRequestsPerSecond = 1000
                try await body(WebhookRig(store: store, simulator: simulator, secret: secret, configuration: configuration))
            }
            await group.triggerGracefulShutdown()
        }
        if let postgres = store as? PostgresRunStore { postgres.shutdown() }
    }

    func environment(owner: String, client: (any ResponsesClient)? = nil) -> (WorkerEnvironment, HTTPResponsesClient) {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let http = HTTPResponsesClient(
            settings: configuration.provider, apiKey: APIKey(Self.apiKey), logger: logger, maxRetries: 0, maxRetryWait: 1)
        return (
            WorkerEnvironment(store: store, client: client ?? http, configuration: configuration, owner: owner, logger: logger),
            http
        )
    }

    @discardableResult
    func enqueue(_ count: Int, text: String = "A document about webhooks.") async throws -> [RunID] {
        let service = RunService(store: store, actor: "test")
        var ids: [RunID] = []
        for index in 0..<count {
            ids.append(
                try await service.enqueue(
                    RunService.Request(feature: "document_summary", tenant: TenantID("t1"), input: ["text": .string("\(text) \(index)")])
                ).run.id)
        }
        return ids
    }

    /// Passes of every executor (each a submitter and a poller) until nothing is queued or in
    /// flight, or `timeout` (quiet, about 2 s for 30 runs; 60 s leaves room for a CPU-starved machine).
    func drain(_ environments: [WorkerEnvironment], timeout: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            try await withThrowingTaskGroup(of: Void.self) { passes in
                for environment in environments {
                    passes.addTask {
                        _ = try await Submitter(environment: environment).runOnce(now: Date())
                        _ = try await Poller(environment: environment).runOnce(now: Date())
                    }
                }
                try await passes.waitForAll()
            }
            let summary = try await store.summary()
            if summary.inFlight == 0 && (summary.counts["queued"] ?? 0) == 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Retrieves the simulator answered for `run`'s responses.
    func retrieves(of run: RunID) -> Int {
        simulator.timeline().filter { $0["run_id"] as? String == run.rawValue }.compactMap { $0["retrieves"] as? Int }.reduce(0, +)
    }
}
