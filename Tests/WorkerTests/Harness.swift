import Foundation
import KilnDomain
import KilnPoller
import KilnProvider
import KilnSQLite
import KilnSimulator
import KilnSubmitter
import KilnWorker
import Logging
import Testing

/// A real SQLite file, the simulator on loopback, and a submitter and poller wired to both,
/// with a schedule fast enough for tests (the simulator's runs take tenths of a second).
struct Harness {
    let store: SQLiteRunStore
    let path: String
    let simulator: Simulator
    let base: String
    var configuration: KilnConfiguration

    static let apiKey = "sk-test-harness-0123456789abcdefghij"

    static func fastConfiguration(base: String) -> KilnConfiguration {
        var configuration = KilnConfiguration()
        configuration.provider.baseURL = base
        // Generous: a create answered late on a loaded machine would be an ambiguous send (a second response).
        configuration.provider.requestTimeoutSeconds = 10
        configuration.poller.initialDelaySeconds = 0.05
        configuration.poller.minIntervalSeconds = 0.02
        configuration.poller.maxIntervalSeconds = 0.3
        configuration.poller.leaseSeconds = 5
        configuration.submitter.leaseSeconds = 5
        configuration.submitter.retryBaseSeconds = 0.05
        configuration.submitter.retryMaxSeconds = 0.2
        configuration.submitter.maxRequestsPerSecond = 1000
        return configuration
    }

    static func simulator(_ change: (inout SimulatorConfiguration) -> Void = { _ in }) -> Simulator {
        var configuration = SimulatorConfiguration()
        configuration.queueWaitMin = 0.02
        configuration.queueWaitMax = 0.1
        configuration.generationMedian = 0.3
        configuration.generationSigma = 0.3
        configuration.apiKey = apiKey
        change(&configuration)
        return Simulator(configuration: configuration)
    }

    /// Runs `body` with a fresh harness; the simulator stops afterwards.
    static func with(
        simulator: Simulator = Harness.simulator(), _ body: @Sendable (inout Harness) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("kiln.sqlite").path
        let store = try SQLiteRunStore(path: path)
        try await store.migrate()
        try await simulator.withRunning { base in
            var harness = Harness(store: store, path: path, simulator: simulator, base: base, configuration: fastConfiguration(base: base))
            try await body(&harness)
        }
    }

    /// A worker environment as one process would have it (`owner` names the process).
    func environment(
        owner: String = "test:1", key: String = Harness.apiKey, store: (any RunStore)? = nil
    ) -> (WorkerEnvironment, HTTPResponsesClient) {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let client = HTTPResponsesClient(
            settings: configuration.provider, apiKey: APIKey(key), logger: logger, maxRetries: 2, maxRetryWait: 2)
        return (
            WorkerEnvironment(store: store ?? self.store, client: client, configuration: configuration, owner: owner, logger: logger),
            client
        )
    }

    /// `body` with a worker environment whose HTTP client is shut down however `body` ends: a
    /// client released without it aborts the whole test process, hiding the failure that threw.
    func withEnvironment<T: Sendable>(
        owner: String = "test:1", key: String = Harness.apiKey, store: (any RunStore)? = nil,
        _ body: (WorkerEnvironment) async throws -> T
    ) async throws -> T {
        let (environment, client) = self.environment(owner: owner, key: key, store: store)
        do {
            let value = try await body(environment)
            try await client.shutdown()
            return value
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    var service: RunService { RunService(store: store, policyDefaults: configuration.policy, actor: "test-app") }

    @discardableResult
    func enqueue(_ text: String, tenant: String = "t1", policy: JSONValue = [:]) async throws -> Run {
        try await service.enqueue(
            RunService.Request(feature: "document_summary", tenant: TenantID(tenant), input: ["text": .string(text)], policy: policy)
        ).run
    }

    /// Passes of a submitter and a poller until every run is terminal (or `timeout`).
    func drain(owner: String = "test:1", key: String = Harness.apiKey, store: (any RunStore)? = nil, timeout: Double = 20) async throws {
        let store = store ?? self.store
        try await withEnvironment(owner: owner, key: key, store: store) { environment in
            let submitter = Submitter(environment: environment)
            let poller = Poller(environment: environment)
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                _ = try await submitter.runOnce(now: Date())
                _ = try await poller.runOnce(now: Date())
                let summary = try await store.summary()
                let children = ["queued", "submitting", "in_progress"].reduce(0) { $0 + (summary.childCounts[$1] ?? 0) }
                if summary.inFlight == 0 && (summary.counts["queued"] ?? 0) == 0 && children == 0 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    func run(_ id: RunID) async throws -> Run {
        try #require(try await store.run(id, tenant: nil))
    }

    /// The provider's own record of a run's (last) response.
    func providerRecord(_ id: RunID) -> [String: Any]? {
        simulator.responses(ofRun: id.rawValue).last
    }

    /// The output text the provider holds for a run: every output_text part, in order.
    func providerText(_ id: RunID) -> String? {
        guard let record = providerRecord(id), let output = record["output"] as? [[String: Any]] else { return nil }
        return output.flatMap { ($0["content"] as? [[String: Any]]) ?? [] }.compactMap { $0["text"] as? String }.joined()
    }
}
