import Foundation
import KilnDomain
import KilnSQLite
import KilnSimulator
import KilnTestSupport
import Testing

@testable import KilnCLI

/// Real `kiln work` processes, killed and stopped, against the simulator in this process.
@Suite("kiln work: crashes and shutdowns lose nothing", .serialized)
struct CrashRecoveryTests {
    static let key = "sk-test-crash-0123456789abcdefghijklmn"

    static func simulator(slowShare: Double) -> Simulator {
        var configuration = SimulatorConfiguration()
        configuration.queueWaitMin = 0.05
        configuration.queueWaitMax = 0.3
        configuration.generationMedian = 0.8
        configuration.generationSigma = 0.5
        configuration.apiKey = key
        configuration.seed = 11
        // Slow answers widen the window between a create leaving and its id being stored.
        configuration.faultRate = slowShare
        configuration.faultMix = [.slow]
        configuration.slowSeconds = 0.6
        return Simulator(configuration: configuration)
    }

    /// The response the run's last send made (by its `kiln_attempt` metadata), which is the
    /// one a run must hold, and which no other create for the run may follow. Not simply the
    /// last one the provider made: after a possible duplicate, a slow create of the earlier
    /// attempt can be given its id after the resend's.
    static func lastAttempt(of run: Run, among responses: [[String: Any]]) -> [String: Any]? {
        func attempt(_ response: [String: Any]) -> Int { Int((response["metadata"] as? [String: String])?["kiln_attempt"] ?? "") ?? -1 }
        guard let last = responses.max(by: { attempt($0) < attempt($1) }), attempt(last) == run.attempt else { return nil }
        return last
    }

    static func environment(base: String) -> [String: String] {
        [
            "OPENAI_BASE_URL": base, "OPENAI_API_KEY": key, "KILN_LOG_LEVEL": "warning",
            "KILN_POLLER_INITIAL_DELAY_SECONDS": "0.1", "KILN_POLLER_MIN_INTERVAL_SECONDS": "0.05",
            "KILN_POLLER_MAX_INTERVAL_SECONDS": "0.5", "KILN_POLLER_LEASE_SECONDS": "5",
            "KILN_SUBMITTER_LEASE_SECONDS": "5", "KILN_SUBMITTER_RETRY_BASE_SECONDS": "0.1",
            "KILN_SUBMITTER_RETRY_MAX_SECONDS": "0.5", "KILN_WORKER_MAX_IDLE_SECONDS": "0.2",
            "KILN_WORKER_SHUTDOWN_GRACE_SECONDS": "5", "KILN_POLICY_MAX_ATTEMPTS": "10",
            "KILN_SUBMITTER_CONCURRENCY": "8", "KILN_SUBMITTER_BATCH_SIZE": "10",
        ]
    }

    static func enqueue(_ count: Int, into location: String) async throws -> (any RunStore, [RunID]) {
        let store = try StoreLocation.open(location)
        try await store.migrate()
        let service = RunService(store: store)
        var ids: [RunID] = []
        for i in 0..<count {
            ids.append(
                try await service.enqueue(
                    .init(feature: "document_summary", tenant: TenantID("t"), input: ["text": .string("Crash test document \(i).")])
                ).run.id)
        }
        return (store, ids)
    }

    static func waitUntilDone(_ store: any RunStore, timeout: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            // A failed read (the database restarting) is asked again; only the deadline ends the wait.
            if let summary = try? await store.summary(), summary.inFlight == 0 && (summary.counts["queued"] ?? 0) == 0 { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test(arguments: Backend.allCases)
    func sigkillAtRandomMomentsThenRestartFinishesEveryRunOnce(backend: Backend) async throws {
        var kiln = try KilnProcess()
        kiln.database = try await backend.location(for: kiln)
        let simulator = Self.simulator(slowShare: 0.3)
        try await simulator.withRunning { [kiln] base in
            let (store, ids) = try await Self.enqueue(40, into: kiln.database!)
            let environment = Self.environment(base: base)
            var generator = SystemRandomNumberGenerator()
            for round in 0..<6 {
                let worker = try kiln.start(["work"], environment: environment, log: "work.log")
                try await Task.sleep(for: .milliseconds(Int.random(in: 150...1200, using: &generator)))
                kill(worker.processIdentifier, SIGKILL)
                await worker.exited()
                #expect(worker.terminationReason == .uncaughtSignal, "round \(round)")
            }
            let final = try kiln.start(["work"], environment: environment, log: "work.log")
            let finished = try await Self.waitUntilDone(store, timeout: 60)
            kill(final.processIdentifier, SIGTERM)
            await final.exited()
            #expect(finished, "every run reached a final state; log:\n\(kiln.read("work.log").suffix(2000))")
            #expect(final.terminationStatus == 0)

            var duplicateCreates = 0
            for id in ids {
                let run = try #require(try await store.run(id, tenant: nil))
                let responses = simulator.responses(ofRun: id.rawValue)
                let last = try #require(Self.lastAttempt(of: run, among: responses), "the provider saw \(id)'s last attempt")
                #expect(run.status == .completed, "\(id)")
                #expect(run.responseID?.rawValue == last["id"] as? String, "\(id) holds the id of its last attempt's create")
                let text = (last["output"] as? [[String: Any]])?.first.flatMap {
                    ($0["content"] as? [[String: Any]])?.first?["text"] as? String
                }
                #expect(run.output?.text == text, "\(id): exactly the provider's output")
                let terminal = try await store.events(of: id).filter { $0.toStatus.isTerminal }
                #expect(terminal.count == 1, "\(id) finalized once")
                duplicateCreates += responses.count - 1
            }
            let reported = try await store.summary().possibleDuplicates
            #expect(reported >= duplicateCreates, "duplicates reported \(reported) ≥ duplicate creates \(duplicateCreates)")
        }
    }

    @Test func sigtermStopsABusyWorkerWithinTheGracePeriodAndARestartResumes() async throws {
        let kiln = try KilnProcess()
        let simulator = Self.simulator(slowShare: 0.5)
        try await simulator.withRunning { base in
            let (store, ids) = try await Self.enqueue(30, into: kiln.databasePath)
            let environment = Self.environment(base: base)
            let worker = try kiln.start(["work"], environment: environment, log: "first.log")
            // Stopped once it is busy (a loaded machine may take a while to start it).
            var busy = try await store.summary()
            for _ in 0..<100 where busy.inFlight == 0 {
                try await Task.sleep(for: .milliseconds(100))
                busy = try await store.summary()
            }
            #expect(busy.inFlight > 0, "the worker was busy when stopped")
            let stopping = Date()
            kill(worker.processIdentifier, SIGTERM)
            await worker.exited()
            let took = Date().timeIntervalSince(stopping)
            #expect(worker.terminationStatus == 0, "\(kiln.read("first.log").suffix(1500))")
            #expect(took < 8, "stopped within the 5 s grace period and its cancellation (took \(took) s)")
            // Nothing is left leased by the stopped process.
            let leftovers = try await store.runs(matching: RunQuery(status: .submitting, limit: 100))
            #expect(leftovers.allSatisfy { $0.sendStartedAt != nil }, "unsent submissions were released")

            let restarted = try kiln.start(["work"], environment: environment, log: "second.log")
            let finished = try await Self.waitUntilDone(store, timeout: 60)
            kill(restarted.processIdentifier, SIGTERM)
            await restarted.exited()
            #expect(finished)
            for id in ids { #expect(try await store.run(id, tenant: nil)?.status == .completed) }
        }
    }

    @Test func cronOnceRunsFinishEverything() async throws {
        let kiln = try KilnProcess()
        let simulator = Self.simulator(slowShare: 0)
        try await simulator.withRunning { base in
            let (store, ids) = try await Self.enqueue(20, into: kiln.databasePath)
            let environment = Self.environment(base: base)
            var summaries: [String] = []
            var firstErrors = ""
            for _ in 0..<200 {
                let result = try await kiln.run(["work", "--once"], environment: environment)
                if summaries.isEmpty { firstErrors = String(result.stderr.prefix(600)) }
                #expect(result.status == 0, "\(result.stderr)")
                summaries.append(result.stdout)
                let summary = try await store.summary()
                if summary.inFlight == 0 && (summary.counts["queued"] ?? 0) == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(summaries.first?.hasPrefix("submit: claimed 20, accepted 20") == true, "\(summaries.first ?? "") \(firstErrors)")
            #expect(summaries.allSatisfy { $0.split(separator: "\n").count == 1 }, "one line each")
            for id in ids { #expect(try await store.run(id, tenant: nil)?.status == .completed) }
        }
    }
}
