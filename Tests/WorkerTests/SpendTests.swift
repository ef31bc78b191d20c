import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnTestSupport
import Testing

/// What tenants spent, kept per feature, model and day by the table itself, on both backends:
/// it agrees with the runs, counts a long document's tree once under its feature, and is
/// unchanged when the runs are pruned; pruning touches nothing but old finished runs.
@Suite("Spend and pruning", .serialized)
struct SpendTests {
    typealias Backend = DocumentTreeTests.Backend

    @Test(arguments: Backend.allCases)
    func spendAgreesWithTheRunsAndSurvivesPruning(backend: Backend) async throws {
        try await Harness.with { h in
            DocumentTreeTests.configure(&h.configuration)
            let (store, execute) = try await DocumentTreeTests.store(backend, h)
            let service = RunService(store: store, actor: "app")
            for (tenant, count) in [("acme", 5), ("globex", 3)] {
                for index in 0..<count {
                    _ = try await service.enqueue(
                        .init(
                            feature: "document_summary", tenant: TenantID(tenant), input: ["text": .string("Report \(index) of \(tenant).")]
                        ))
                }
            }
            try await execute(DocumentTreeTests.insertSQL(id: "run_book", text: DocumentTreeTests.document(parts: 6)))
            try await h.drain(store: store, timeout: 60)
            let yesterday = Date().addingTimeInterval(-86_400)

            let all = try await store.runs(matching: RunQuery(limit: 1_000, includeChildren: true))
            #expect(all.allSatisfy { $0.status.isTerminal })
            func expected(_ tenant: String) -> (runs: Int, input: Int, cost: Int64) {
                let mine = all.filter { $0.tenantID == TenantID(tenant) }
                let paid = mine.filter { !$0.isTreeParent }
                return (
                    mine.filter { $0.parentRunID == nil }.count, paid.reduce(0) { $0 + ($1.usage?.inputTokens ?? 0) },
                    paid.reduce(0) { $0 + ($1.costMicros ?? 0) + $1.orphanCostMicros }
                )
            }
            let acme = try await service.spend(tenant: TenantID("acme"), since: yesterday)
            #expect(acme.total.runs == expected("acme").runs, "5 runs and the long document: \(acme)")
            #expect(acme.total.runs == 6)
            #expect(acme.total.inputTokens == expected("acme").input)
            #expect(acme.total.costMicros == expected("acme").cost)
            #expect(acme.total.costMicros > 0)
            #expect(Set(acme.map(\.feature)) == ["document_summary"], "a long document's children count under its feature")
            let book = try #require(all.first { $0.id == RunID("run_book") })
            #expect(acme.total.costMicros >= book.costMicros ?? 0)
            let globex = try await service.spend(tenant: TenantID("globex"), since: yesterday)
            #expect(globex.total.runs == 3)
            #expect(globex.total.costMicros == expected("globex").cost)
            let everyone = try await service.spend(tenant: nil, since: yesterday)
            #expect(everyone.total.costMicros == acme.total.costMicros + globex.total.costMicros)
            #expect(try await service.spend(tenant: TenantID("acme"), since: Date().addingTimeInterval(86_400)).isEmpty)

            // A run still queued, then a prune of everything that ended: only finished runs go.
            let waiting = try await service.enqueue(
                .init(feature: "document_summary", tenant: TenantID("acme"), input: ["text": "Not sent yet."])
            ).run
            var deleted = 0
            while true {
                let batch = try await store.prune(finalizedBefore: Date().addingTimeInterval(60), limit: 7, deletingAfterFinalize: false)
                #expect(batch <= 7)
                deleted += batch
                if batch == 0 { break }
            }
            #expect(deleted == all.count)
            let left = try await store.runs(matching: RunQuery(limit: 1_000, includeChildren: true))
            #expect(left.map(\.id) == [waiting.id])
            #expect(try await store.events(of: book.id).isEmpty, "a pruned run's events go with it")
            #expect(try await store.events(of: waiting.id).count == 1)
            let after = try await service.spend(tenant: TenantID("acme"), since: yesterday)
            #expect(after == acme, "spend is kept when runs are pruned")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }
}

extension SpendTests {
    /// `worker.retention_days`: the poller prunes old runs by itself, once a minute, spend kept.
    @Test func thePollerPrunesRunsPastTheRetention() async throws {
        try await Harness.with { h in
            h.configuration.provider.deleteAfterFinalize = false
            let service = RunService(store: h.store, actor: "app")
            for index in 0..<4 {
                _ = try await service.enqueue(
                    .init(feature: "document_summary", tenant: TenantID("acme"), input: ["text": .string("Memo \(index).")]))
            }
            try await h.drain(timeout: 30)
            let spend = try await service.spend(tenant: TenantID("acme"), since: Date().addingTimeInterval(-86_400))
            h.configuration.worker.retentionDays = 1
            try await h.withEnvironment { environment async throws in
                let poller = Poller(environment: environment)
                #expect(try await poller.runOnce(now: Date()).pruned == 0, "nothing is a day old yet")
                let later = Date().addingTimeInterval(2 * 86_400)
                #expect(try await poller.runOnce(now: Date(), dueBy: later).pruned == 4)
                #expect(try await h.store.runs(matching: RunQuery()).isEmpty)
                #expect(try await service.spend(tenant: TenantID("acme"), since: Date().addingTimeInterval(-86_400)) == spend)
            }
        }
    }
}
