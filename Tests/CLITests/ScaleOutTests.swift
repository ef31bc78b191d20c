import Foundation
import KilnDomain
@testable import KilnCLI
import KilnPostgres
import KilnSimulator
import KilnTestSupport
import Testing

/// Several `kiln work` processes on one PostgreSQL database.
@Suite("PostgreSQL: many executors share the work", .serialized)
struct ScaleOutTests {
    @Test func fourExecutorsWithKillsFinishEveryRunOnceAndShareTheWork() async throws {
        var kiln = try KilnProcess()
        kiln.database = try await TestPostgres.freshDatabase()
        let simulator = CrashRecoveryTests.simulator(slowShare: 0.1)
        try await simulator.withRunning { [kiln] base in
            let (store, ids) = try await CrashRecoveryTests.enqueue(300, into: kiln.database!)
            let environment = CrashRecoveryTests.environment(base: base)
            var workers = try (0..<4).map { try kiln.start(["work"], environment: environment, log: "work\($0).log") }
            // Kill one executor at a time, at random moments, and start a new one in its place.
            for round in 0..<4 {
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...900)))
                let victim = round % workers.count
                kill(workers[victim].processIdentifier, SIGKILL)
                await workers[victim].exited()
                workers[victim] = try kiln.start(["work"], environment: environment, log: "work\(victim).log")
            }
            let finished = try await CrashRecoveryTests.waitUntilDone(store, timeout: 90)
            for worker in workers { kill(worker.processIdentifier, SIGTERM) }
            for worker in workers { await worker.exited() }
            #expect(finished, "\(kiln.read("work0.log").suffix(1500))")
            #expect(workers.allSatisfy { $0.terminationStatus == 0 })

            var actors: [String: Int] = [:]
            var duplicateCreates = 0
            for id in ids {
                let run = try #require(try await store.run(id, tenant: nil))
                #expect(run.status == .completed, "\(id)")
                let events = try await store.events(of: id)
                #expect(events.filter { $0.toStatus.isTerminal }.count == 1, "\(id) finalized once")
                if let accepted = events.last(where: { $0.kind == "accepted" }) { actors[accepted.actor, default: 0] += 1 }
                let responses = simulator.responses(ofRun: id.rawValue)
                #expect(run.responseID?.rawValue == responses.last?["id"] as? String)
                duplicateCreates += responses.count - 1
            }
            #expect(actors.count >= 4, "the work was spread over the processes: \(actors)")
            #expect(try await store.summary().possibleDuplicates >= duplicateCreates)
        }
    }
}
