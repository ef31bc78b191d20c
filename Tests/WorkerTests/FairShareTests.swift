import Foundation
import KilnDomain
import KilnPostgres
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// One tenant's backlog of 10,000 runs does not delay other tenants: while a submitter works
/// through it, 20 single runs of 20 other tenants arrive between its passes, and each is sent
/// by the first pass after it arrived — the README's bound, counted in passes so that a loaded
/// machine cannot make it flake; the waits in seconds are printed.
@Suite("Fair share: a backlog does not hold other tenants back", .serialized)
struct FairShareTests {
    typealias Backend = DocumentTreeTests.Backend

    @Test(arguments: Backend.allCases)
    func singleRunsOfOtherTenantsAreSentBesideABacklogOf10000(backend: Backend) async throws {
        try await Harness.with { h in
            let (store, execute) = try await DocumentTreeTests.store(backend, h)
            switch backend {
            case .sqlite:
                try await execute(
                    """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
                    INSERT INTO ai_runs (id, tenant_id, feature, input)
                    SELECT printf('run_big_%05d', i), 'big', 'document_summary', '{"text":"Backlog document."}' FROM n
                    """)
            case .postgres:
                try await execute(
                    """
                    INSERT INTO ai_runs (id, tenant_id, feature, input)
                    SELECT 'run_big_' || lpad(i::text, 5, '0'), 'big', 'document_summary', '{"text":"Backlog document."}'::jsonb
                    FROM generate_series(1, 10000) i
                    """)
            }
            // Submit passes as a daemon makes them, the 20 single runs arriving between them: each
            // must be sent by the first pass after it arrived (in first-in-first-out order it would
            // wait for the 200 passes of the backlog).
            h.configuration.submitter.batchSize = 10  // light on a machine running the whole suite at once
            let (waits, passSeconds): ([Double], [Double]) = try await h.withEnvironment(store: store) { environment in
                let submitter = Submitter(environment: environment)
                let service = RunService(store: store, actor: "app")
                var waits: [Double] = []
                var passSeconds: [Double] = []
                for index in 0..<20 {
                    let single = try await service.enqueue(
                        .init(feature: "document_summary", tenant: TenantID("tenant-\(index)"), input: ["text": "One document."])
                    ).run
                    let started = Date()
                    _ = try await submitter.runOnce(now: Date())
                    passSeconds.append(Date().timeIntervalSince(started))
                    let sent = try #require(try await store.run(single.id, tenant: nil))
                    #expect(sent.submittedAt != nil, "tenant-\(index)'s run was sent by the first pass after it arrived")
                    if let at = sent.submittedAt { waits.append(at.timeIntervalSince(single.createdAt)) }
                }
                return (waits, passSeconds)
            }
            let backlogSent = try await store.summary().counts["in_progress"] ?? 0
            print(
                "\(backend) fair share: waits p50 \(percentile(waits, 0.5)) s, p99 \(percentile(waits, 0.99)) s; "
                    + "a pass took p50 \(percentile(passSeconds, 0.5)) s; backlog runs sent meanwhile \(backlogSent - 20)")
            #expect(backlogSent - 20 >= 20 * 9, "each pass also filled its batch from the backlog")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }
}
