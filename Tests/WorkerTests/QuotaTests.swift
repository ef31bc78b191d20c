import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnSQLite
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// Limits per tenant and feature, on both backends, with the real submitter and poller: runs
/// held by a limit stay queued with their reason and go when a slot frees, a window rolls or a
/// cap is raised; concurrent submitters never commit more than a cap; `over_budget: fail` fails.
@Suite("Quotas: in-flight limits and cost caps", .serialized)
struct QuotaTests {
    typealias Backend = DocumentTreeTests.Backend

    /// `count` handles on one fresh database, as separate processes would have them, and a way to run SQL.
    static func stores(
        _ backend: Backend, _ h: Harness, count: Int
    ) async throws -> ([any RunStore], @Sendable (String) async throws -> Void) {
        switch backend {
        case .sqlite:
            var stores: [any RunStore] = [h.store]
            for _ in 1..<count { stores.append(try SQLiteRunStore(path: h.path)) }
            return (stores, { [h] sql in try await h.store.execute(sql) })
        case .postgres:
            let url = try await TestPostgres.freshDatabase()
            var stores: [any RunStore] = []
            for _ in 0..<count {
                let store = try PostgresRunStore(url: url)
                try await store.migrate()
                stores.append(store)
            }
            return (stores, { sql in try await TestPostgres.execute(sql, url: url) })
        }
    }

    static func shutdown(_ stores: [any RunStore]) {
        for case let postgres as PostgresRunStore in stores { postgres.shutdown() }
    }

    static func enqueue(_ service: RunService, _ tenant: String, _ count: Int, policy: JSONValue = [:]) async throws -> [Run] {
        var runs: [Run] = []
        for index in 0..<count {
            runs.append(
                try await service.enqueue(
                    .init(
                        feature: "document_summary", tenant: TenantID(tenant), input: ["text": .string("Quarterly report \(index).")],
                        policy: policy)
                ).run)
        }
        return runs
    }

    static func inFlight(_ store: any RunStore, _ tenant: String) async throws -> [Run] {
        try await store.runs(matching: RunQuery(tenant: TenantID(tenant), limit: 1_000)).filter {
            $0.status == .submitting || $0.status == .inProgress
        }
    }

    @Test(arguments: Backend.allCases)
    func aTenantsInFlightLimitHoldsItsRunsQueuedUntilSlotsFree(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.quotas.checkSeconds = 1
            let (stores, execute) = try await Self.stores(backend, h, count: 1)
            let store = stores[0]
            // The app sets the limit by SQL, as an app in any language can.
            try await execute("INSERT INTO kiln_tenant_quotas (tenant_id, max_in_flight) VALUES ('acme', 2)")
            let service = RunService(store: store, actor: "app")
            let acme = try await Self.enqueue(service, "acme", 6)
            _ = try await Self.enqueue(service, "globex", 2)
            let most: Int = try await h.withEnvironment(store: store) { environment in
                let submitter = Submitter(environment: environment)
                let poller = Poller(environment: environment)

                _ = try await submitter.runOnce(now: Date())
                #expect(try await Self.inFlight(store, "acme").count == 2, "acme's limit of 2")
                #expect(try await Self.inFlight(store, "globex").count == 2, "another tenant is not held")
                let held = try await store.runs(matching: RunQuery(tenant: TenantID("acme"), status: .queued))
                #expect(held.count == 4)
                #expect(held.allSatisfy { $0.waitReason == WaitReason.tenantInFlight.rawValue })
                let summary = try await store.summary()
                #expect(summary.waiting == [WaitReason.tenantInFlight.rawValue: 4])
                let event = try #require(try await store.events(of: held[0].id).last)
                #expect(event.kind == "held")
                let hold = try #require(QuotaCheck.Hold(event: event))
                #expect(hold.sentence == "tenant acme is at its limit of 2 runs in flight")

                var most = 0
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    _ = try await submitter.runOnce(now: Date())
                    most = max(most, try await Self.inFlight(store, "acme").count)
                    _ = try await poller.runOnce(now: Date())
                    let all = try await store.runs(matching: RunQuery(limit: 100))
                    if all.allSatisfy({ $0.status.isTerminal }) { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return most
            }
            #expect(most == 2, "never more than 2 of acme's runs at the provider")
            for run in acme {
                let final = try #require(try await store.run(run.id, tenant: nil))
                #expect(final.status == .completed)
                #expect(final.waitReason == nil, "cleared when claimed")
                let heldEvents = try await store.events(of: run.id).filter { $0.kind == "held" }
                #expect(heldEvents.count <= 1, "a run held again for the same reason gets no second event")
            }
            Self.shutdown(stores)
        }
    }

    @Test(arguments: Backend.allCases)
    func concurrentSubmittersNeverCommitMoreThanACap(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.quotas.checkSeconds = 1
            h.configuration.submitter.batchSize = 10
            let (stores, execute) = try await Self.stores(backend, h, count: 4)
            let service = RunService(store: stores[0], actor: "app")
            // What one run reserves: the most its request can cost.
            _ = try await Self.enqueue(service, "probe", 1)
            _ = try await h.withEnvironment(store: stores[0]) { try await Submitter(environment: $0).runOnce(now: Date()) }
            let probe = try #require(try await Self.inFlight(stores[0], "probe").first)
            let reservation = try #require(probe.reservedCostMicros)
            #expect(reservation > 4_000, "2,000 output tokens at $2 per million, and the input")
            let cap = reservation * 5 + reservation / 2
            try await execute("INSERT INTO kiln_tenant_quotas (tenant_id, daily_cost_micros) VALUES ('acme', \(cap))")
            _ = try await Self.enqueue(service, "acme", 30)

            let clients = stores.enumerated().map { index, store in h.environment(owner: "test:\(index)", store: store) }
            let (peak, fullRounds): (Int64, Int) = try await withShutdown(clients.map { $0.1.shutdown }) {
                let submitters = clients.map { Submitter(environment: $0.0) }
                let poller = Poller(environment: clients[0].0)
                var peak: Int64 = 0
                var fullRounds = 0
                for _ in 0..<30 {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        for submitter in submitters { group.addTask { _ = try await submitter.runOnce(now: Date()) } }
                        try await group.waitForAll()
                    }
                    let today = Calendar(identifier: .gregorian).startOfDay(for: Date())
                    let spent = try await service.spend(tenant: TenantID("acme"), since: today).total.costMicros
                    let flying = try await Self.inFlight(stores[0], "acme")
                    let committed = spent + flying.reduce(0) { $0 + ($1.reservedCostMicros ?? 0) }
                    peak = max(peak, committed)
                    #expect(committed <= cap, "spent \(spent) + reserved by \(flying.count) in flight ≤ cap \(cap)")
                    if flying.count == 5 { fullRounds += 1 }
                    _ = try await poller.runOnce(now: Date())
                    try await Task.sleep(for: .milliseconds(100))
                }
                return (peak, fullRounds)
            }
            let acme = try await stores[0].runs(matching: RunQuery(tenant: TenantID("acme"), limit: 100))
            let finished = acme.compactMap(\.costMicros)
            print(
                "\(backend) cap \(cap) µ$, reservation \(reservation) µ$: peak committed \(peak) µ$, rounds with 5 in flight \(fullRounds); "
                    + "a finished run cost \(finished.reduce(0, +) / Int64(max(1, finished.count))) µ$ on average (\(finished.count) runs)")
            #expect(fullRounds > 0, "the cap binds: 5 runs' reservations fit, a sixth does not")
            var heldByTheCap = false
            for run in acme where !heldByTheCap {
                heldByTheCap = try await stores[0].events(of: run.id).contains {
                    $0.kind == "held" && $0.details["reason"] == .string(WaitReason.tenantDailyCost.rawValue)
                }
            }
            #expect(heldByTheCap, "runs that did not fit were held with the cap as their reason")
            Self.shutdown(stores)
        }
    }

    @Test(arguments: Backend.allCases)
    func heldRunsGoWhenTheWindowRollsOrTheCapIsRaised(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.quotas.checkSeconds = 1
            let (stores, execute) = try await Self.stores(backend, h, count: 1)
            let store = stores[0]
            let now = Date()
            let today = String(Timestamp.format(now).prefix(10))
            // Each tenant has spent 999,000 µ$ of a $1 cap today (as finished runs would have).
            for tenant in ["acme", "globex", "initech"] {
                try await execute(
                    "INSERT INTO kiln_usage_daily (day, tenant_id, feature, model, runs, cost_micros) VALUES ('\(today)', '\(tenant)', 'document_summary', 'gpt-5-mini', 1, 999000)"
                )
            }
            try await execute(
                """
                INSERT INTO kiln_tenant_quotas (tenant_id, daily_cost_micros, monthly_cost_micros)
                VALUES ('acme', 1000000, NULL), ('globex', 1000000, NULL), ('initech', NULL, 1000000)
                """)
            let service = RunService(store: store, actor: "app")
            let acme = try await Self.enqueue(service, "acme", 2)
            let globex = try await Self.enqueue(service, "globex", 1)
            let initech = try await Self.enqueue(service, "initech", 1)
            try await h.withEnvironment(store: store) { environment in
                let submitter = Submitter(environment: environment)
                _ = try await submitter.runOnce(now: Date())
                for run in acme + globex + initech {
                    #expect(try await store.run(run.id, tenant: nil)?.status == .queued)
                }
                let acmeEvent = try #require(try await store.events(of: acme[0].id).last)
                let acmeHold = try #require(QuotaCheck.Hold(event: acmeEvent))
                #expect(acmeHold.reason == .tenantDailyCost)
                #expect(acmeHold.sentence.hasPrefix("tenant acme's daily cost cap of $1.000000 would be exceeded: $0.999000 spent"))
                let initechEvent = try #require(try await store.events(of: initech[0].id).last)
                let initechHold = try #require(QuotaCheck.Hold(event: initechEvent))
                #expect(initechHold.reason == .tenantMonthlyCost)

                // The cap raised: globex's run is looked at again at once and goes.
                try await service.setQuota(tenant: TenantID("globex"), QuotaLimits(dailyCostMicros: 2_000_000))
                _ = try await submitter.runOnce(now: Date())
                #expect(try await store.run(globex[0].id, tenant: nil)?.submittedAt != nil)
                #expect(try await store.run(acme[0].id, tenant: nil)?.status == .queued, "acme's cap still holds")

                // The day rolls (a pass just after midnight UTC): acme's runs go; initech's monthly cap
                // holds until the month rolls.
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: "UTC")!
                let tomorrow = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: now))!.addingTimeInterval(1)
                let nextMonth = calendar.date(
                    byAdding: .month, value: 1, to: calendar.date(from: calendar.dateComponents([.year, .month], from: now))!)!
                _ = try await submitter.runOnce(now: tomorrow)
                for run in acme { #expect(try await store.run(run.id, tenant: nil)?.submittedAt != nil, "the new day's window") }
                if tomorrow < nextMonth {
                    #expect(try await store.run(initech[0].id, tenant: nil)?.status == .queued, "the month has not rolled")
                }
                _ = try await submitter.runOnce(now: nextMonth.addingTimeInterval(1))
                #expect(try await store.run(initech[0].id, tenant: nil)?.submittedAt != nil, "the new month's window")
            }
            Self.shutdown(stores)
        }
    }

    @Test(arguments: Backend.allCases)
    func overBudgetFailFailsTheRunOthersWait(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.quotas.checkSeconds = 1
            let (stores, execute) = try await Self.stores(backend, h, count: 1)
            let store = stores[0]
            try await execute("INSERT INTO kiln_tenant_quotas (tenant_id, daily_cost_micros) VALUES ('umbrella', 1000)")
            let service = RunService(store: store, actor: "app")
            let failing = try await Self.enqueue(service, "umbrella", 1, policy: ["over_budget": "fail"])[0]
            let waiting = try await Self.enqueue(service, "umbrella", 1)[0]
            _ = try await h.withEnvironment(store: store) { try await Submitter(environment: $0).runOnce(now: Date()) }

            let failed = try #require(try await store.run(failing.id, tenant: nil))
            #expect(failed.status == .failed)
            #expect(failed.error?.code == "over_budget")
            #expect(failed.error?.message.contains("tenant umbrella's daily cost cap of $0.001000 would be exceeded") == true)
            #expect(failed.attempt == 0, "never sent")
            #expect(try await store.run(waiting.id, tenant: nil)?.waitReason == WaitReason.tenantDailyCost.rawValue)
            #expect(try await store.run(waiting.id, tenant: nil)?.status == .queued)
            Self.shutdown(stores)
        }
    }

    @Test(arguments: Backend.allCases)
    func aFeatureLimitHoldsAcrossTenants(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.quotas.checkSeconds = 1
            h.configuration.quotas.features["document_summary"] = QuotaLimits(maxInFlight: 1)
            let (stores, _) = try await Self.stores(backend, h, count: 1)
            let store = stores[0]
            let service = RunService(store: store, actor: "app")
            var summaries: [Run] = []
            for tenant in ["acme", "globex", "initech"] { summaries += try await Self.enqueue(service, tenant, 1) }
            _ = try await h.withEnvironment(store: store) { try await Submitter(environment: $0).runOnce(now: Date()) }
            var statuses: [RunStatus] = []
            var reasons: [String?] = []
            for run in summaries {
                let now = try #require(try await store.run(run.id, tenant: nil))
                statuses.append(now.status)
                reasons.append(now.waitReason)
            }
            #expect(statuses.filter { $0 != .queued }.count == 1, "one document_summary in flight across tenants: \(statuses)")
            #expect(reasons.compactMap { $0 } == [WaitReason.featureInFlight.rawValue, WaitReason.featureInFlight.rawValue])
            Self.shutdown(stores)
        }
    }
}
