import Foundation
import KilnDomain
import Testing

/// Fair share between tenants at claim time, in every store: one tenant's backlog does not
/// hold the claims while other tenants' runs wait behind it.
@Suite("RunStore: fair share between tenants")
struct FairShareStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// `count` runs of tenant `big`, an hour older than anything else, as an app inserts them.
    func backlog(_ f: StoreFixture, kind: StoreKind, count: Int) async throws {
        let at = Timestamp.format(now - 3600)
        switch kind {
        case .sqlite:
            try await f.executeSQL(
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(count))
                INSERT INTO ai_runs (id, tenant_id, feature, input, available_at, created_at, updated_at)
                SELECT printf('run_big_%05d', i), 'big', 'document_summary', '{"text":"Backlog."}', '\(at)', '\(at)', '\(at)' FROM n
                """)
        case .postgres:
            try await f.executeSQL(
                """
                INSERT INTO ai_runs (id, tenant_id, feature, input, available_at, created_at, updated_at)
                SELECT 'run_big_' || lpad(i::text, 5, '0'), 'big', 'document_summary', '{"text":"Backlog."}'::jsonb,
                    '\(at)'::timestamptz, '\(at)'::timestamptz, '\(at)'::timestamptz FROM generate_series(1, \(count)) i
                """)
        case .memory:
            for index in 1...count {
                let id = RunID(String(format: "run_big_%05d", index))
                _ = try await f.store.insert(
                    Run(id: id, tenantID: TenantID("big"), feature: "document_summary", input: ["text": "Backlog."], createdAt: now - 3600),
                    event: RunEvent(runID: id, fromStatus: nil, toStatus: .queued, at: now - 3600, actor: "app", kind: "enqueued"))
            }
        }
    }

    func enqueue(_ store: any RunStore, tenant: String, at: Date) async throws -> Run {
        try await RunService(store: store, actor: "app").enqueue(
            RunService.Request(feature: "document_summary", tenant: TenantID(tenant), input: ["text": "One run."]), now: at
        ).run
    }

    @Test(arguments: StoreKind.allCases)
    func otherTenantsRunsAreClaimedBesideABacklogOf10000(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        try await backlog(f, kind: kind, count: 10_000)
        var singles: [RunID] = []
        for index in 0..<20 { singles.append(try await enqueue(f.store, tenant: "tenant-\(index)", at: now + Double(index)).id) }
        let claimed = try await f.store.claim(.submission, owner: "w", limit: 50, leaseUntil: now + 600, now: now + 60)
        #expect(claimed.count == 50)
        #expect(Set(singles).isSubset(of: Set(claimed.map(\.id))), "every other tenant's run in the first claim")
        #expect(claimed.filter { $0.tenantID == TenantID("big") }.count == 30, "the backlog fills the rest of the batch")
        let big = claimed.filter { $0.tenantID == TenantID("big") }.map(\.id.rawValue)
        #expect(big == big.sorted(), "a tenant's own runs stay first in, first out")
        #expect(claimed.first?.tenantID == TenantID("big"), "the tenant waiting longest is served first")
    }

    @Test(arguments: StoreKind.allCases)
    func moreTenantsThanABatchAreServedInTurn(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        for index in 0..<30 {
            for run in 0..<3 { _ = try await enqueue(f.store, tenant: String(format: "t%02d", index), at: now + Double(run)) }
        }
        // Claims of 10: the first three serve all 30 tenants once before any gets a second run.
        var served: [String] = []
        for _ in 0..<3 {
            served += try await f.store.claim(.submission, owner: "w", limit: 10, leaseUntil: now + 600, now: now + 60).map(
                \.tenantID.rawValue)
        }
        #expect(served.count == 30)
        #expect(Set(served).count == 30, "no tenant twice before every tenant once: \(served)")
    }
}
