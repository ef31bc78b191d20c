import Foundation
import KilnDomain
import KilnPostgres
import KilnSQLite
import KilnSimulator
import KilnTestSupport
import Testing

/// An idle `kiln work` acts on what other processes write at once: a run an application
/// inserts is sent, a cancel it asks for reaches the provider — not after the worker's idle
/// sleep (`worker.max_idle_seconds`, 30 s) or its next scheduled poll (20 s here). Quiet runs
/// take well under a second (printed; see the README's wake-up benchmark); the bound checked
/// is 3 s, a tenth of the idle sleep, so a loaded CI machine cannot make it flake.
/// SQLite watches `PRAGMA data_version`; PostgreSQL `LISTEN`s.
@Suite("Other processes' writes wake an idle worker", .serialized)
struct WakeUpTests {
    @Test(arguments: Backend.allCases)
    func runsInsertedAndCancelsAskedForByAnotherProcessAreActedOnAtOnce(backend: Backend) async throws {
        let (kiln, app) = try await backend.kilnAndApp()
        #expect(try await kiln.run(["status"]).status == 0, "creates and migrates the database")
        var configuration = SimulatorConfiguration()
        configuration.queueWaitMax = 0
        configuration.generationMedian = 0.2
        let simulator = Simulator(configuration: configuration)
        try await simulator.withRunning { [kiln] base in
            // Polls 20 s apart, so only a wake-up can carry a cancel out sooner.
            let environment = [
                "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-test", "KILN_LOG_LEVEL": "warning",
                "KILN_POLLER_INITIAL_DELAY_SECONDS": "20", "KILN_POLLER_MIN_INTERVAL_SECONDS": "20",
            ]
            let worker = try kiln.start(["work"], environment: environment, log: "work.log")
            defer { worker.terminate() }
            try await Task.sleep(for: .seconds(2))  // started, migrated, idle

            // The application: another process's connection to the same database.
            let service = RunService(store: app, actor: "app")
            var random = SystemRandomNumberGenerator()
            var inserted: [Run] = []
            for index in 0..<20 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 100...1000, using: &random)))
                inserted.append(
                    try await service.enqueue(
                        .init(feature: "document_summary", tenant: TenantID("t"), input: ["text": .string("Inserted \(index).")])
                    ).run)
            }
            var sent: [Double] = []
            for _ in 0..<100 {
                sent = []
                for run in inserted {
                    guard let stored = try await app.run(run.id, tenant: nil), let at = stored.submittedAt else { break }
                    sent.append(at.timeIntervalSince(run.createdAt))
                }
                if sent.count == inserted.count { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try #require(sent.count == 20, "every inserted run was sent: \(kiln.read("work.log").suffix(600))")
            let p99 = percentile(sent, 0.99)
            print("\(backend) inserted → sent: p50 \(percentile(sent, 0.5)) s, p99 \(p99) s")
            #expect(p99 < 3.0, "p99 \(p99) s over \(sent.sorted())")

            // A long generation in flight, then a cancel from the application.
            let long = try await service.enqueue(
                .init(feature: "document_summary", tenant: TenantID("t"), input: ["text": "Long [sim:generation=600]"])
            ).run
            var responseID: ResponseID?
            for _ in 0..<50 where responseID == nil {
                try await Task.sleep(for: .milliseconds(100))
                responseID = try await app.run(long.id, tenant: nil)?.responseID
            }
            let id = try #require(responseID, "the long run was sent")
            try await Task.sleep(for: .milliseconds(Int.random(in: 1000...3000, using: &random)))
            let asked = try #require(try await service.cancel(long.id, tenant: TenantID("t")).cancelRequestedAt)
            var finished: Date?
            for _ in 0..<100 where finished == nil {
                try await Task.sleep(for: .milliseconds(50))
                finished = simulator.finishTime(ofResponse: id.rawValue)
            }
            let reached = try #require(finished, "the cancel reached the provider within 5 s: \(kiln.read("work.log").suffix(3000))")
                .timeIntervalSince(asked)
            print("\(backend) cancel asked → provider cancelled: \(reached) s")
            #expect(reached < 3.0)
        }
        (app as? PostgresRunStore)?.shutdown()
    }
}
