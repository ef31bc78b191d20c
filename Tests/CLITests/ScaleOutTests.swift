import Foundation
import KilnDomain
import KilnPostgres
import KilnSimulator
import KilnTestSupport
import Testing

@testable import KilnCLI

/// Several `kiln work` processes on one PostgreSQL database.
@Suite("PostgreSQL: many executors share the work", .serialized)
struct ScaleOutTests {
    /// Inserts `count` runs with one SQL statement, as an app in another language would.
    static func insertRuns(_ count: Int, into url: String) async throws -> [RunID] {
        try await TestPostgres.execute(
            """
            INSERT INTO ai_runs (id, tenant_id, feature, input)
            SELECT 'run-' || lpad(g::text, 5, '0'), 'tenant-' || (g % 5), 'document_summary',
                   jsonb_build_object('text', 'Scale-out document ' || g || '.')
            FROM generate_series(1, \(count)) g
            """, url: url)
        return (1...count).map { RunID("run-" + String(repeating: "0", count: 5 - String($0).count) + String($0)) }
    }

    /// Every run completed once, holding the response the provider finished, and duplicate
    /// creates no more than reported; returns the processes that accepted runs.
    static func checkEveryRunFinishedOnce(_ ids: [RunID], store: any RunStore, simulator: Simulator) async throws -> [String: Int] {
        var actors: [String: Int] = [:]
        var duplicateCreates = 0
        for id in ids {
            let run = try #require(try await store.run(id, tenant: nil), "\(id)")
            #expect(run.status == .completed, "\(id)")
            let events = try await store.events(of: id)
            #expect(events.filter { $0.toStatus.isTerminal && $0.fromStatus?.isTerminal != true }.count == 1, "\(id) finalized once")
            if let accepted = events.last(where: { $0.kind == "accepted" }) { actors[accepted.actor, default: 0] += 1 }
            let responses = simulator.responses(ofRun: id.rawValue)
            let last = CrashRecoveryTests.lastAttempt(of: run, among: responses)
            #expect(last != nil && run.responseID?.rawValue == last?["id"] as? String, "\(id) holds its last attempt's response")
            duplicateCreates += max(responses.count - 1, 0)
        }
        #expect(try await store.summary().possibleDuplicates >= duplicateCreates)
        return actors
    }

    @Test func fourExecutorsWithKillsFinishTwoThousandRunsOnceAndShareTheWork() async throws {
        var kiln = try KilnProcess()
        kiln.database = try await TestPostgres.freshDatabase()
        let simulator = CrashRecoveryTests.simulator(slowShare: 0.1)
        try await simulator.withRunning { [kiln] base in
            let store = try StoreLocation.open(kiln.database!)
            try await store.migrate()
            let ids = try await Self.insertRuns(2000, into: kiln.database!)
            var environment = CrashRecoveryTests.environment(base: base)
            environment["KILN_SUBMITTER_MAX_REQUESTS_PER_SECOND"] = "1000"
            var workers = try (0..<4).map { try kiln.start(["work"], environment: environment, log: "work\($0).log") }
            // Kill one executor at a time, at random moments, and start a new one in its place.
            for round in 0..<6 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 500...1500)))
                let victim = round % workers.count
                kill(workers[victim].processIdentifier, SIGKILL)
                await workers[victim].exited()
                workers[victim] = try kiln.start(["work"], environment: environment, log: "work\(victim).log")
            }
            let finished = try await CrashRecoveryTests.waitUntilDone(store, timeout: 240)
            for worker in workers { kill(worker.processIdentifier, SIGTERM) }
            for worker in workers { await worker.exited() }
            #expect(finished, "\(kiln.read("work0.log").suffix(1500))")
            #expect(workers.allSatisfy { $0.terminationStatus == 0 })

            let actors = try await Self.checkEveryRunFinishedOnce(ids, store: store, simulator: simulator)
            #expect(actors.count >= 4, "the work was spread over the processes: \(actors)")
        }
    }

    @Test func executorsRecoverFromAServerRestartUnderLoad() async throws {
        let server = try await OwnPostgresServer.start()
        do {
            var kiln = try KilnProcess()
            kiln.database = server.url
            let simulator = CrashRecoveryTests.simulator(slowShare: 0.1)
            try await simulator.withRunning { [kiln] base in
                let store = try StoreLocation.open(server.url)
                try await store.migrate()
                let ids = try await Self.insertRuns(300, into: server.url)
                var environment = CrashRecoveryTests.environment(base: base)
                environment["KILN_SUBMITTER_MAX_REQUESTS_PER_SECOND"] = "100"  // keeps runs in every state at the restart
                let workers = try (0..<2).map { try kiln.start(["work"], environment: environment, log: "work\($0).log") }
                // Restart while runs are queued, being submitted and in progress.
                var summary = try await store.summary()
                while (summary.counts["completed"] ?? 0) < 20 {
                    try await Task.sleep(for: .milliseconds(100))
                    summary = try await store.summary()
                }
                #expect((summary.counts["queued"] ?? 0) > 0 && summary.inFlight > 0, "under load at the restart: \(summary.counts)")
                try await server.restart()

                // No manual step: the same processes (and this test's own pool) go on.
                let finished = try await CrashRecoveryTests.waitUntilDone(store, timeout: 120)
                for worker in workers { kill(worker.processIdentifier, SIGTERM) }
                for worker in workers { await worker.exited() }
                #expect(finished, "\(kiln.read("work0.log").suffix(2000))")
                #expect(workers.allSatisfy { $0.terminationReason == .exit && $0.terminationStatus == 0 }, "the executors never died")
                _ = try await Self.checkEveryRunFinishedOnce(ids, store: store, simulator: simulator)
            }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }
}
