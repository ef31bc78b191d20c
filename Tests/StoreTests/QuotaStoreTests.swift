import Foundation
import KilnDomain
import KilnTestSupport
import Testing

/// Limits on the submission claim, in every store: admitted runs carry their reservation, a
/// scope's held runs stay queued with their reason (one `held` event for a reason, however often
/// held), a tenant's own row overrides the configuration, and raising it releases them at once.
@Suite("RunStore: limits on the submission claim")
struct QuotaStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func admission(maxInFlight: Int? = nil) -> Admission {
        var quotas = QuotaSettings()
        quotas.tenant.maxInFlight = maxInFlight
        quotas.checkSeconds = 5
        return Admission(quotas: quotas) { _ in Assessment(reservationMicros: 7) }
    }

    @Test(arguments: StoreKind.allCases)
    func aTenantAtItsLimitIsHeldWithItsReason(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let service = RunService(store: f.store, actor: "app")
        var acme: [RunID] = []
        for index in 0..<4 {
            acme.append(
                try await service.enqueue(
                    .init(feature: "document_summary", tenant: TenantID("acme"), input: ["text": .string("Run \(index).")]),
                    now: now + Double(index)
                ).run.id)
        }
        let other = try await service.enqueue(
            .init(feature: "document_summary", tenant: TenantID("globex"), input: ["text": "One."]), now: now)
        let at = now + 10
        let first = try await f.store.claim(
            .submission, owner: "w", limit: 10, leaseUntil: at + 60, now: at, admission: admission(maxInFlight: 1))
        #expect(Set(first.map(\.id)) == [acme[0], other.run.id], "one of acme's, and globex's")
        #expect(first.allSatisfy { $0.reservedCostMicros == 7 })
        #expect(try await f.store.run(acme[0], tenant: nil)?.reservedCostMicros == 7)
        for id in acme.dropFirst() {
            let held = try #require(try await f.store.run(id, tenant: nil))
            #expect(held.status == .queued)
            #expect(held.waitReason == "tenant_in_flight")
            #expect(held.availableAt == at + 5, "looked at again quotas.check_seconds later")
        }
        #expect(try await f.store.summary().waiting == ["tenant_in_flight": 3])

        // Held again for the same reason: no second event.
        let again = try await f.store.claim(
            .submission, owner: "w", limit: 10, leaseUntil: at + 70, now: at + 5, admission: admission(maxInFlight: 1))
        #expect(again.isEmpty)
        #expect(try await f.store.events(of: acme[1]).filter { $0.kind == "held" }.count == 1)

        // The tenant's own limit overrides the configured one; setting it releases the held runs now.
        try await f.store.setTenantQuota(TenantID("acme"), QuotaLimits(maxInFlight: 3), now: at + 6)
        #expect(try await f.store.tenantQuotas(TenantID("acme")) == [TenantID("acme"): QuotaLimits(maxInFlight: 3)])
        #expect(try await f.store.run(acme[1], tenant: nil)?.availableAt == at + 6)
        let raised = try await f.store.claim(
            .submission, owner: "w", limit: 10, leaseUntil: at + 70, now: at + 6, admission: admission(maxInFlight: 1))
        #expect(raised.map(\.id) == [acme[1], acme[2]], "two more, up to the tenant's 3")
        #expect(raised.allSatisfy { $0.waitReason == nil })
        try await f.store.setTenantQuota(TenantID("acme"), nil, now: at + 7)
        #expect(try await f.store.tenantQuotas(nil).isEmpty)
    }
}

/// `kiln status` reports the provider deletions Kiln gave up on, in every store.
@Suite("RunStore: given-up provider deletions are counted")
struct GivenUpDeletionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: StoreKind.allCases)
    func aDeletionGivenUpIsCountedInTheSummary(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let service = RunService(store: f.store, actor: "app")
        var ids: [RunID] = []
        for index in 0..<2 {
            ids.append(
                try await service.enqueue(
                    .init(feature: "document_summary", tenant: TenantID("acme"), input: ["text": .string("R\(index).")]), now: now
                )
                .run.id)
        }
        let finished = Timestamp.format(now + 5)
        for (index, id) in ids.enumerated() {
            switch kind {
            case .memory:
                (f.store as? InMemoryRunStore)?.edit(id) { run in
                    run.status = .completed
                    run.responseID = ResponseID("resp_\(index)")
                    run.finalizedAt = now + 5
                }
            case .sqlite, .postgres:
                let cast = kind == .postgres ? "::timestamptz" : ""
                try await f.executeSQL(
                    "UPDATE ai_runs SET status = 'completed', response_id = 'resp_\(index)', finalized_at = '\(finished)'\(cast) WHERE id = '\(id)'"
                )
            }
        }
        let due = try await f.store.claimProviderDeletions(afterFinalize: true, limit: 10, now: now + 10, leaseUntil: now + 70)
        #expect(Set(due.map(\.runID)) == Set(ids))
        #expect(try await f.store.summary().providerDeletionsGivenUp == 0)
        try await f.store.recordProviderDeletion(ids[0], deleted: false, retryAt: nil, now: now + 11)
        try await f.store.recordProviderDeletion(ids[1], deleted: false, retryAt: now + 40, now: now + 11)
        #expect(try await f.store.summary().providerDeletionsGivenUp == 1, "given up; the other is only retried later")
    }
}
