import Foundation
import KilnDomain
import KilnPostgres
import KilnSimulator
import KilnTestSupport
import Testing

@testable import KilnCLI

/// `kill -9` at every step of a batch (`KILN_FAILPOINT`: the process sends itself SIGKILL right
/// there), then a fresh `kiln work`: every run ends once, one provider batch is made, nothing
/// is billed twice — on both backends.
@Suite("The Batch lane survives kill -9 at every step", .serialized)
struct BatchCrashTests {
    /// Where a process dies: after sealing the batch, after the upload (file id not recorded),
    /// after recording the intent to create, after the create (batch id not recorded), after
    /// reading the results (nothing mapped back), after mapping them back (batch not closed).
    static let failpoints = ["batch.sealed", "batch.uploaded", "batch.creating", "batch.created", "batch.results_read", "batch.collecting"]

    static func environment(base: String) -> [String: String] {
        var environment = CrashRecoveryTests.environment(base: base)
        environment["KILN_BATCH_GATHER_SECONDS"] = "0.3"
        environment["KILN_BATCH_POLL_SECONDS"] = "0.1"
        environment["KILN_BATCH_RETRY_SECONDS"] = "0.1"
        environment["KILN_BATCH_LEASE_SECONDS"] = "3"
        environment["KILN_POLICY_MAX_ATTEMPTS"] = "3"
        return environment
    }

    /// Every step on SQLite; on PostgreSQL (the same steps over its own SQL) the two where a
    /// mistake bills twice: a lost create found again, results mapped back after a kill. Fewer
    /// processes beside the rest of the suite on a 2-core machine.
    static let cases: [(Backend, String)] =
        failpoints.map { (Backend.sqlite, $0) }
        + ["batch.created", "batch.results_read", "batch.collecting"].map { (Backend.postgres, $0) }

    @Test(arguments: cases)
    func aKilledStepIsResumedWithoutASecondBatch(backend: Backend, failpoint: String) async throws {
        var kiln = try KilnProcess()
        kiln.database = try await backend.location(for: kiln)
        var configuration = SimulatorConfiguration()
        configuration.apiKey = CrashRecoveryTests.key
        configuration.generationMedian = 0.2
        configuration.generationSigma = 0.3
        configuration.batchValidatingSeconds = 0.1
        configuration.batchQueueWaitMax = 0.3
        configuration.batchFinalizingSeconds = 0.1
        let simulator = Simulator(configuration: configuration)
        try await simulator.withRunning { [kiln] base in
            let store = try StoreLocation.open(kiln.database!)
            try await store.migrate()
            var ids: [RunID] = []
            for i in 0..<6 {
                ids.append(
                    try await RunService(store: store).enqueue(
                        .init(
                            feature: "document_summary", tenant: TenantID("t"), input: ["text": .string("Batch crash document \(i).")],
                            policy: ["lane": "batch", "deadline_seconds": 200_000])
                    ).run.id)
            }
            var environment = Self.environment(base: base)
            environment["KILN_FAILPOINT"] = failpoint
            let doomed = try kiln.start(["work"], environment: environment, log: "doomed.log")
            let started = Date()
            while doomed.isRunning, Date().timeIntervalSince(started) < 30 { try await Task.sleep(for: .milliseconds(50)) }
            if doomed.isRunning { kill(doomed.processIdentifier, SIGKILL) }
            await doomed.exited()
            #expect(doomed.terminationReason == .uncaughtSignal, "died at \(failpoint): \(kiln.read("doomed.log").suffix(800))")
            #expect(kiln.read("doomed.log").contains("failpoint \(failpoint)"), "the failpoint was reached")

            environment["KILN_FAILPOINT"] = nil
            let survivor = try kiln.start(["work"], environment: environment, log: "survivor.log")
            let finished = try await CrashRecoveryTests.waitUntilDone(store, timeout: 60)
            kill(survivor.processIdentifier, SIGTERM)
            await survivor.exited()
            #expect(finished, "every run ended; log:\n\(kiln.read("survivor.log").suffix(1500))")

            let stats = simulator.statistics()
            let batches = stats["batches_by_kiln_batch"] as? [String: Int] ?? [:]
            #expect(batches.count == 1 && batches.values.allSatisfy { $0 == 1 }, "one provider batch: \(batches)")
            if failpoint == "batch.uploaded" {
                // Killed after its upload, before recording it: the file is uploaded again (the first expires by itself).
                #expect((stats["file_uploads"] as? Int ?? 0) >= 2)
            }
            var cost: Int64 = 0
            for id in ids {
                let run = try #require(try await store.run(id, tenant: nil))
                #expect(run.status == .completed, "\(id): \(run.error?.message ?? "")")
                #expect(run.usage?.batchID != nil, "carried by the batch")
                #expect(simulator.responses(ofRun: id.rawValue).count == 1, "billed once: \(id)")
                let terminal = try await store.events(of: id).filter { $0.toStatus.isTerminal }
                #expect(terminal.count == 1, "\(id) finalized once")
                cost += run.costMicros ?? 0
            }
            let spent = try await store.spend(SpendQuery(tenant: TenantID("t"), since: Date().addingTimeInterval(-86_400))).reduce(Int64(0))
            { $0 + $1.costMicros }
            #expect(spent == cost, "spend counts each run once")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }
}
