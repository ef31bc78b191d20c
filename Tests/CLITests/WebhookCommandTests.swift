import Foundation
import KilnDomain
import KilnPostgres
import KilnSQLite
import KilnSimulator
import KilnTestSupport
import Testing

/// `kiln work --listen` and `kiln serve` with the simulator's signed webhooks: two executors
/// share one database, one of them (or a `serve` process) receives, every run is finalized
/// once with about one retrieve.
@Suite("kiln: webhooks from the shell", .serialized)
struct WebhookCommandTests {
    @Test(arguments: Backend.allCases)
    func twoExecutorsAndAReceiverFinishEveryRunOnceByWebhook(backend: Backend) async throws {
        let (kiln, app) = try await backend.kilnAndApp()
        #expect(try await kiln.run(["status"]).status == 0, "creates and migrates the database")
        let secret = "whsec_" + Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let port = try FreePort.loopback()
        var configuration = SimulatorConfiguration()
        configuration.queueWaitMax = 0.1
        configuration.generationMedian = 0.5
        configuration.apiKey = "sk-test-webhook-cli"
        var webhooks = WebhookSettings(url: "http://127.0.0.1:\(port)/webhooks/openai", secret: secret)
        webhooks.duplicateRate = 0.1
        configuration.webhooks = webhooks
        let simulator = Simulator(configuration: configuration)
        try await simulator.withRunning { [kiln] base in
            let environment = [
                "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-test-webhook-cli", "OPENAI_WEBHOOK_SECRET": secret,
                "KILN_LOG_LEVEL": "warning",
            ]
            // The receiver is a `serve` on SQLite and one of the executors on PostgreSQL.
            let listen = "127.0.0.1:\(port)"
            let first = try kiln.start(
                backend == .sqlite ? ["serve", "--listen", listen] : ["work", "--listen", listen], environment: environment,
                log: "first.log")
            defer { first.terminate() }
            let second = try kiln.start(["work"], environment: environment, log: "second.log")
            defer { second.terminate() }
            let third = try kiln.start(["work"], environment: environment, log: "third.log")
            defer { third.terminate() }
            try await Task.sleep(for: .seconds(2))
            let service = RunService(store: app, actor: "app")
            var ids: [RunID] = []
            for index in 0..<20 {
                ids.append(
                    try await service.enqueue(
                        .init(feature: "document_summary", tenant: TenantID("t"), input: ["text": .string("Webhook \(index).")])
                    ).run.id)
            }
            var finished = 0
            for _ in 0..<300 {
                finished = try await app.summary().counts["completed"] ?? 0
                if finished == ids.count { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(finished == ids.count, "\(kiln.read("first.log").suffix(800))")
            var retrieves = 0
            for id in ids {
                #expect(try await app.events(of: id).filter { $0.toStatus.isTerminal }.count == 1, "finalized once: \(id)")
                retrieves += simulator.timeline().filter { $0["run_id"] as? String == id.rawValue }
                    .compactMap { $0["retrieves"] as? Int }.reduce(0, +)
            }
            #expect(Double(retrieves) / Double(ids.count) <= 1.2, "retrieves per run \(Double(retrieves) / Double(ids.count))")
            #expect(!kiln.read("first.log").contains(secret.dropFirst(6)), "the secret is in no log line")
        }
        if let postgres = app as? PostgresRunStore { postgres.shutdown() }
    }
}
