import Foundation
import KilnDomain
import KilnPostgres
import KilnTestSupport
import Testing

@Suite("PostgreSQL: a database that stops answering")
struct PostgresPoolTests {
    /// A row lock held by another session makes Kiln's write wait: past the operation timeout
    /// the write fails with a clear error, the pool is replaced, and once the lock is gone
    /// the same store works again. (The same path turns a pool wedged after a server restart
    /// into one failed pass.)
    @Test func aWaitPastTheTimeoutFailsClearlyAndTheStoreRecovers() async throws {
        let url = try await TestPostgres.freshDatabase()
        let store = try PostgresRunStore(url: url, operationTimeout: .seconds(2))
        try await store.migrate()
        let run = try await RunService(store: store, actor: "test").enqueue(
            .init(feature: "document_summary", tenant: TenantID("t"), input: ["text": "Locked."])
        ).run
        // Another session holds the row for 6 s.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "psql", url, "-v", "ON_ERROR_STOP=1", "-c",
            "BEGIN; SELECT id FROM ai_runs WHERE id = '\(run.id.rawValue)' FOR UPDATE; SELECT pg_sleep(6); COMMIT;",
        ]
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        try await Task.sleep(for: .seconds(1))

        let started = ContinuousClock.now
        await #expect {
            _ = try await store.requestCancellation(run.id, tenant: TenantID("t"), actor: "test", now: Date())
        } throws: { error in
            (error as? KilnError)?.message.contains("PostgreSQL did not answer within") == true
        }
        #expect(started.duration(to: .now) < .seconds(5), "bounded by the timeout, not by the lock")
        await holder.exited()
        #expect(holder.terminationStatus == 0)
        // The replaced pool answers, and the write goes through once the abandoned session is gone.
        var cancelled: Run?
        for _ in 0..<15 where cancelled == nil {
            cancelled = try? await store.requestCancellation(run.id, tenant: TenantID("t"), actor: "test", now: Date())
        }
        #expect(cancelled?.cancelRequestedAt != nil)
        store.shutdown()
    }
}
