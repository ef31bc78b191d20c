import CoreMetrics
import Foundation
import HTTPTypes
import HummingbirdTesting
import KilnDomain
import KilnOperator
import KilnPoller
import KilnProvider
import KilnSimulator
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Logging
import Prometheus
import Testing

/// `/metrics` after runs of known outcomes, worked by the real submitter and poller against the
/// simulator: it parses as Prometheus text, and its counters agree with the table.
@Suite("Metrics agree with the table", .serialized)
struct MetricsTests {
    typealias Backend = DashboardFixture.Backend

    /// `name{labels} value` lines (comments checked for form), by the whole series text.
    static func parse(_ text: String) throws -> [String: Double] {
        var series: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("#") {
                #expect(line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE "), "comment: \(line)")
                continue
            }
            let parts = line.split(separator: " ")
            #expect(parts.count == 2, "a series and a value: \(line)")
            let name = parts[0].prefix { $0 != "{" }
            #expect(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }, "metric name \(name)")
            let value = try #require(Double(parts[1]), "a number: \(line)")
            series[String(parts[0])] = value
        }
        return series
    }

    @Test(arguments: Backend.allCases)
    func countersAgreeWithTheTableAfterKnownOutcomes(backend: Backend) async throws {
        let f = try await DashboardFixture.make(backend)
        defer { f.shutdown() }
        var simulatorConfiguration = SimulatorConfiguration()
        simulatorConfiguration.queueWaitMin = 0.01
        simulatorConfiguration.queueWaitMax = 0.05
        simulatorConfiguration.generationMedian = 0.2
        simulatorConfiguration.generationSigma = 0.2
        simulatorConfiguration.apiKey = "sk-metrics-0123456789abcdef"
        let registry = PrometheusCollectorRegistry()
        let factory = MetricsExporter.factory(registry: registry)
        // Runs of one feature of their own, so the counters hold only this test's runs.
        let service = RunService(store: f.store, actor: "app")
        var expectedStatus: [RunID: RunStatus] = [:]
        for (text, status) in [
            ("One.", RunStatus.completed), ("Two.", .completed), ("Three [sim:fail]", .failed), ("Four [sim:incomplete]", .incomplete),
        ] {
            let run = try await service.enqueue(
                .init(feature: "document_summary", tenant: TenantID("metrics"), input: ["text": .string(text)])
            ).run
            expectedStatus[run.id] = status
        }
        let cancelled = try await service.enqueue(.init(feature: "document_summary", tenant: TenantID("metrics"), input: ["text": "Five."]))
            .run
        // The fixture's other runs are not this test's: park them.
        try await f.execute("UPDATE ai_runs SET status = 'cancelled' WHERE tenant_id <> 'metrics' AND status IN ('queued', 'in_progress')")

        try await Simulator(configuration: simulatorConfiguration).withRunning { base in
            var configuration = KilnConfiguration()
            configuration.provider.baseURL = base
            configuration.poller.initialDelaySeconds = 0.05
            configuration.poller.minIntervalSeconds = 0.02
            configuration.poller.maxIntervalSeconds = 0.3
            configuration.submitter.maxRequestsPerSecond = 1000
            configuration.provider.deleteAfterFinalize = false
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let client = HTTPResponsesClient(
                settings: configuration.provider, apiKey: APIKey("sk-metrics-0123456789abcdef"), logger: logger, maxRetries: 1,
                maxRetryWait: 1)
            let environment = WorkerEnvironment(
                store: f.store, client: client, configuration: configuration, owner: "test:metrics", logger: logger)
            try await withShutdown([client.shutdown]) {
                try await withMetricsFactory(factory) {
                    _ = try await service.cancel(cancelled.id, tenant: TenantID("metrics"))
                    let submitter = Submitter(environment: environment)
                    let poller = Poller(environment: environment)
                    let deadline = Date().addingTimeInterval(30)
                    while Date() < deadline {
                        _ = try await submitter.runOnce(now: Date())
                        _ = try await poller.runOnce(now: Date())
                        if try await f.store.runs(matching: RunQuery(tenant: TenantID("metrics"))).allSatisfy({ $0.status.isTerminal }) {
                            break
                        }
                        try await Task.sleep(for: .milliseconds(30))
                    }
                }
            }
        }
        let runs = try await f.store.runs(matching: RunQuery(tenant: TenantID("metrics")))
        for run in runs where run.id != cancelled.id { #expect(run.status == expectedStatus[run.id], "\(run.id)") }

        let exporter = MetricsExporter(store: f.store, registry: registry, cacheSeconds: 0)
        let series = try Self.parse(try await exporter.render())
        func finished(_ status: String) -> Double {
            series["kiln_runs_finished_total{feature=\"document_summary\",status=\"\(status)\"}"] ?? 0
        }
        // The cancel before submission was written by the app's facade, not a worker: only
        // what workers finalize is counted.
        for status in ["completed", "failed", "incomplete"] {
            let inTable = runs.filter { $0.status.rawValue == status }.count
            #expect(finished(status) == Double(inTable), "\(status): metric \(finished(status)), table \(inTable)")
        }
        #expect(series["kiln_provider_requests_total{operation=\"create\",outcome=\"2xx\"}"] == 4)
        #expect((series["kiln_provider_requests_total{operation=\"retrieve\",outcome=\"2xx\"}"] ?? 0) >= 4)
        let completedCost = runs.filter { $0.status == .completed }.reduce(Int64(0)) { $0 + ($1.costMicros ?? 0) }
        let failedCost = runs.filter { $0.status != .completed }.reduce(Int64(0)) { $0 + ($1.costMicros ?? 0) }
        let cost = series["kiln_cost_usd_total{feature=\"document_summary\"}"] ?? 0
        #expect(abs(cost - Double(completedCost + failedCost) / 1_000_000) < 1e-9, "cost \(cost)")
        let input = runs.reduce(0) { $0 + ($1.usage?.inputTokens ?? 0) }
        #expect(series["kiln_tokens_total{feature=\"document_summary\",type=\"input\"}"] == Double(input))
        #expect(series["kiln_run_duration_seconds_count{feature=\"document_summary\",status=\"completed\"}"] == 2)
        #expect(
            series["kiln_run_duration_seconds_bucket{feature=\"document_summary\",status=\"completed\",le=\"28800.0\"}"] == 2,
            "buckets reach 8 h")
        #expect(series["kiln_run_queue_duration_seconds_count{feature=\"document_summary\"}"] == 4)
        #expect((series["kiln_last_pass_timestamp_seconds{worker=\"poller\"}"] ?? 0) > Date().timeIntervalSince1970 - 120)
        #expect(series["kiln_runs{status=\"queued\",feature=\"\"}"] == 0, "nothing left queued")
        // Bounded labels only: never a tenant, a run or a response id.
        let allowed: Set<String> = ["feature", "status", "operation", "outcome", "type", "worker", "reason", "le", "state"]
        #expect(series["kiln_batches{state=\"submitted\"}"] == 0, "the batch lane's gauge, one series per state")
        for key in series.keys {
            guard let open = key.firstIndex(of: "{") else { continue }
            let labels = key[key.index(after: open)...].split(separator: ",").map { String($0.prefix { $0 != "=" }) }
            #expect(Set(labels).isSubset(of: allowed), "labels of \(key)")
        }
    }
}
