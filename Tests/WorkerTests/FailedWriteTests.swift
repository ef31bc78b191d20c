import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnProvider
import KilnSQLite
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Logging
import Synchronization
import Testing

/// A write the database refuses for a while (a lock held past the busy timeout, a row lock
/// past PostgreSQL's operation timeout) right after the provider answered: the worker keeps
/// what it learned and writes it when the database answers, in the same pass. The run never
/// waits for the worker's own lease, an accepted create is never sent again, and the run
/// gets one terminal event.
@Suite("A write that fails on a busy database", .serialized)
struct FailedWriteTests {
    /// Runs `lock` once, the first time it is called.
    final class Once: Sendable {
        private let done = Mutex(false)
        private let body: @Sendable () async throws -> Void
        init(_ body: @escaping @Sendable () async throws -> Void) { self.body = body }
        func callAsFunction() async throws {
            guard
                done.withLock({ done in
                    defer { done = true }
                    return !done
                })
            else { return }
            try await body()
        }
    }

    static let quiet: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    /// Waits (at most 10 s) until the provider has finished `run`'s response.
    static func waitForProvider(_ h: Harness, _ run: Run, in store: any RunStore) async throws {
        let responseID = try #require(try await store.run(run.id, tenant: nil)?.responseID)
        for _ in 0..<500 where h.simulator.finishTime(ofResponse: responseID.rawValue) == nil {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// `body`'s result, after shutting `client` down whether `body` threw or not.
    static func shuttingDown<T: Sendable>(_ client: HTTPResponsesClient, after body: () async throws -> T) async throws -> T {
        let outcome: Result<T, any Error>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        try await client.shutdown()
        return try outcome.get()
    }

    static func environment(_ h: Harness, store: any RunStore, client: any ResponsesClient) -> WorkerEnvironment {
        WorkerEnvironment(store: store, client: client, configuration: h.configuration, owner: "test:1", logger: quiet)
    }

    @Test func aFinalizingWriteRefusedByALockedSQLiteFileIsWrittenWhenTheLockGoes() async throws {
        try await Harness.with { h in
            let impatient = try SQLiteRunStore(path: h.path, busyTimeout: 0.2)
            let run = try await h.enqueue("Finalized under a lock [sim:queue=0] [sim:generation=0.05]")
            let (plain, client) = h.environment(store: impatient)
            let pass: PollPassResult = try await Self.shuttingDown(client) {
                #expect(try await Submitter(environment: plain).runOnce(now: Date()).accepted == 1)
                try await Self.waitForProvider(h, run, in: h.store)

                // Right after the retrieve answers, another process holds the file for 1.5 s.
                let path = h.path
                let lock = Once { _ = try await DatabaseLocks.sqlite(path, for: 1.5) }
                let hooked = HookedClient(base: client, afterRetrieve: { _ in try await lock() })
                return try await Poller(environment: Self.environment(h, store: impatient, client: hooked))
                    .runOnce(now: Date(), dueBy: Date().addingTimeInterval(3600))
            }

            #expect(pass.finalized["completed"] == 1, "finalized in the same pass, not after the lease: \(pass)")
            let stored = try await h.run(run.id)
            #expect(stored.status == .completed)
            #expect(stored.output?.text == h.providerText(run.id))
            let events = try await h.store.events(of: run.id)
            #expect(events.filter { $0.toStatus.isTerminal }.count == 1)
            #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 1)
        }
    }

    @Test func anAcceptRefusedByALockedSQLiteFileIsWrittenWithoutASecondCreate() async throws {
        try await Harness.with { h in
            let impatient = try SQLiteRunStore(path: h.path, busyTimeout: 0.2)
            let run = try await h.enqueue("Accepted under a lock")
            let (_, client) = h.environment(store: impatient)
            let path = h.path
            let lock = Once { _ = try await DatabaseLocks.sqlite(path, for: 1.5) }
            let hooked = HookedClient(base: client, afterCreate: { _, _ in try await lock() })
            let environment = Self.environment(h, store: impatient, client: hooked)
            let pass = try await Self.shuttingDown(client) { try await Submitter(environment: environment).runOnce(now: Date()) }

            #expect(pass.accepted == 1 && pass.possibleDuplicates == 0, "\(pass)")
            let accepted = try await h.run(run.id)
            #expect(accepted.status == .inProgress)
            #expect(accepted.responseID?.rawValue == h.providerRecord(run.id)?["id"] as? String)
            try await h.drain()
            #expect(try await h.run(run.id).status == .completed)
            #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 1, "one create")
            let kinds = try await h.store.events(of: run.id).map(\.kind)
            #expect(!kinds.contains("possible_duplicate"), "\(kinds)")
            #expect(kinds.filter { $0 == "accepted" }.count == 1, "\(kinds)")
        }
    }

    @Test func aFinalizingWriteBlockedByAPostgreSQLRowLockIsWrittenWhenTheLockGoes() async throws {
        try await Harness.with { h in
            let url = try await TestPostgres.freshDatabase()
            let store = try PostgresRunStore(url: url, operationTimeout: .seconds(2), logger: Self.quiet)
            // The setup runs on a store with the default timeout: on a loaded machine a claim may take
            // over a second, and only the poller's write is what this test holds to a short timeout.
            let relaxed = try PostgresRunStore(url: url, logger: Self.quiet)
            try await relaxed.migrate()
            let service = RunService(store: relaxed, policyDefaults: h.configuration.policy, actor: "test-app")
            let run = try await service.enqueue(
                .init(
                    feature: "document_summary", tenant: TenantID("t1"), input: ["text": "Locked row [sim:queue=0] [sim:generation=0.05]"])
            ).run
            let (plain, client) = h.environment(store: relaxed)
            let pass: PollPassResult = try await Self.shuttingDown(client) {
                #expect(try await Submitter(environment: plain).runOnce(now: Date()).accepted == 1)
                try await Self.waitForProvider(h, run, in: relaxed)

                // After the retrieve, another session holds the run's row for 6 s: three times
                // the operation timeout, so the first write times out and the pool is replaced.
                let lock = Once { _ = try await DatabaseLocks.postgresRow(run.id.rawValue, url: url, for: 6) }
                let hooked = HookedClient(base: client, afterRetrieve: { _ in try await lock() })
                return try await Poller(environment: Self.environment(h, store: store, client: hooked))
                    .runOnce(now: Date(), dueBy: Date().addingTimeInterval(3600))
            }

            #expect(pass.finalized["completed"] == 1, "finalized in the same pass, not after the lease: \(pass)")
            let stored = try #require(try await store.run(run.id, tenant: nil))
            #expect(stored.status == .completed)
            let events = try await store.events(of: run.id)
            #expect(events.filter { $0.toStatus.isTerminal }.count == 1, "\(events.map(\.kind))")
            #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 1)
            store.shutdown()
            relaxed.shutdown()
        }
    }

    /// One run's write fails for good (a trigger refuses it) while another run's create is
    /// still in flight: the other run is accepted, not cancelled into an ambiguous send.
    @Test func oneRunsFailedWriteDoesNotAbandonTheOtherCreatesOfItsBatch() async throws {
        try await Harness.with { h in
            let refused = try await h.enqueue("Its accept is refused")
            let slow = try await h.enqueue("Its answer is slow")
            try await h.store.execute(
                """
                CREATE TRIGGER refuse_accept BEFORE UPDATE OF status ON ai_runs
                WHEN NEW.id = '\(refused.id.rawValue)' AND NEW.status = 'in_progress'
                BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """)
            let (_, client) = h.environment()
            let slowID = slow.id.rawValue
            let hooked = HookedClient(
                base: client,
                afterCreate: { request, _ in
                    if request.metadata["kiln_run_id"] == slowID { try await Task.sleep(for: .milliseconds(500)) }
                })
            await #expect(throws: KilnError.self) {
                _ = try await Submitter(environment: Self.environment(h, store: h.store, client: hooked)).runOnce(now: Date())
            }
            try await client.shutdown()
            let other = try await h.run(slow.id)
            #expect(other.status == .inProgress, "the slow create was recorded")
            #expect(!(try await h.store.events(of: slow.id).map(\.kind).contains("possible_duplicate")))
            #expect(h.simulator.responses(ofRun: slowID).count == 1)
        }
    }
}
