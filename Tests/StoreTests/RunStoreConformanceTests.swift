import Foundation
import KilnDomain
import Testing

/// The one suite every ``RunStore`` passes: the contract, not the backend.
@Suite("RunStore conformance")
struct RunStoreConformanceTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func service(_ store: any RunStore) -> RunService { RunService(store: store, actor: "test") }

    func enqueue(_ store: any RunStore, tenant: String = "t1", key: String? = nil, at: Date? = nil) async throws -> Run {
        try await service(store).enqueue(
            RunService.Request(
                feature: "document_summary", tenant: TenantID(tenant), input: ["text": "A long document."],
                idempotencyKey: key), now: at ?? now
        ).run
    }

    @Test(arguments: StoreKind.allCases)
    func insertWithTheSameIdempotencyKeyReturnsTheExistingRun(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let first = try await enqueue(f.store, key: "doc-42")
        let second = try await service(f.store).enqueue(
            RunService.Request(feature: "document_summary", tenant: TenantID("t1"), input: ["text": "other"], idempotencyKey: "doc-42"),
            now: now)
        guard case .existing(let existing) = second else {
            Issue.record("a second insert with the same key created a run")
            return
        }
        #expect(existing.id == first.id)
        #expect(try await f.store.runs(matching: RunQuery()).count == 1)
        // The key is unique per tenant, not globally.
        let otherTenant = try await enqueue(f.store, tenant: "t2", key: "doc-42")
        #expect(otherTenant.id != first.id)
    }

    @Test(arguments: StoreKind.allCases)
    func readsAreScopedByTenant(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await enqueue(f.store, tenant: "acme")
        #expect(try await f.store.run(run.id, tenant: TenantID("acme"))?.id == run.id)
        #expect(try await f.store.run(run.id, tenant: TenantID("globex")) == nil)
        await #expect(throws: KilnError.self) { try await service(f.store).run(run.id, tenant: TenantID("globex")) }
        #expect(try await f.store.runs(matching: RunQuery(tenant: TenantID("globex"))).isEmpty)
        #expect(try await f.store.runs(matching: RunQuery(tenant: TenantID("acme"))).map(\.id) == [run.id])
    }

    @Test(arguments: StoreKind.allCases)
    func aRunRoundTripsEveryField(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let outcome = try await service(f.store).enqueue(
            RunService.Request(
                feature: "document_summary", tenant: TenantID("t1"), user: "u7", subject: Subject(type: "document", id: "42"),
                input: ["text": "Body", "length": "medium"], policy: ["model": "gpt-5"], idempotencyKey: "k"),
            now: now)
        let stored = try #require(try await f.store.run(outcome.run.id, tenant: TenantID("t1")))
        #expect(stored == outcome.run)
        #expect(stored.policy["model"] == "gpt-5")
        #expect(stored.policy["max_attempts"] == .number(3), "the resolved policy is written at enqueue")
        #expect(stored.promptVersion == "document_summary/v1")
        let events = try await f.store.events(of: stored.id)
        #expect(events.map(\.kind) == ["enqueued"])
    }

    @Test(arguments: StoreKind.allCases)
    func guardedUpdatesLetOnlyTheFirstWriterWin(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        _ = try await enqueue(f.store)
        let claimed = try #require(try await f.store.claim(.submission, owner: "a", limit: 10, leaseUntil: now + 60, now: now).first)
        let accepted = try #require(
            RunUpdate.make(
                .accept(responseID: ResponseID("resp_1"), providerStatus: "queued", firstPollAt: now + 5), on: claimed, at: now, actor: "a")
        )
        let failed = try #require(
            RunUpdate.make(
                .fail(RunFailure(code: "x", message: "y", source: .kiln)), on: claimed, at: now, actor: "b"))
        #expect(try await f.store.save(accepted))
        #expect(try await f.other.save(failed) == false, "a stale guard must not write")
        let stored = try #require(try await f.store.run(claimed.id, tenant: nil))
        #expect(stored.status == .inProgress)
        #expect(stored.responseID == ResponseID("resp_1"))
        let kinds = try await f.store.events(of: claimed.id).map(\.kind)
        #expect(kinds == ["enqueued", "claimed", "accepted"], "the refused update wrote no event")
    }

    @Test(arguments: StoreKind.allCases)
    func aTerminalRunIsNeverChangedAgain(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await enqueue(f.store)
        _ = try await service(f.store).cancel(run.id, tenant: TenantID("t1"), now: now)
        let cancelled = try #require(try await f.store.run(run.id, tenant: nil))
        #expect(cancelled.status == .cancelled)
        // Forge an update that ignores the transition table: the guard still holds it off.
        var forged = cancelled
        forged.status = .completed
        let update = RunUpdate(run: forged, expectedStatus: .queued, expectedLeaseOwner: nil, event: nil)
        #expect(try await f.store.save(update) == false)
        #expect(try await f.store.run(run.id, tenant: nil)?.status == .cancelled)
        #expect(try await f.store.claim(.submission, owner: "a", limit: 10, leaseUntil: now + 60, now: now + 1).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func submissionClaimsTakeOnlyDueQueuedRunsInOrder(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let a = try await enqueue(f.store, at: now)
        let b = try await enqueue(f.store, at: now + 1)
        _ = try await enqueue(f.store, at: now + 100)  // not yet due
        let claimed = try await f.store.claim(.submission, owner: "w1", limit: 10, leaseUntil: now + 70, now: now + 10)
        #expect(claimed.map(\.id) == [a.id, b.id])
        #expect(claimed.allSatisfy { $0.status == .submitting && $0.leaseOwner == "w1" })
        #expect(try await f.store.claim(.submission, owner: "w2", limit: 10, leaseUntil: now + 70, now: now + 10).isEmpty)
        let events = try await f.store.events(of: a.id)
        #expect(events.last?.kind == "claimed" && events.last?.actor == "w1")
    }

    /// The send mark is written from the run as it was claimed; it must renew the lease, not
    /// set it back to the claim's expiry. It did once: a mark written late (after a database
    /// restart) left a lease that had already run out, another executor took the run over
    /// while the first one's create was on its way, and the provider made two responses.
    @Test(arguments: StoreKind.allCases)
    func theSendMarkRenewsTheLeaseRatherThanSettingItBack(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        _ = try await enqueue(f.store)
        let claimed = try #require(try await f.store.claim(.submission, owner: "w1", limit: 1, leaseUntil: now + 5, now: now).first)
        #expect(try await f.store.renewLeases([claimed.id], owner: "w1", until: now + 9) == 1)
        let mark = try #require(
            RunUpdate.make(.markSend(promptVersion: "v", leaseUntil: now + 13), on: claimed, at: now + 8, actor: "w1"))
        #expect(try await f.store.save(mark))
        #expect(try await f.store.run(claimed.id, tenant: nil)?.leaseExpiresAt == now + 13)
        #expect(
            try await f.other.claim(.abandonedSubmission, owner: "w2", limit: 10, leaseUntil: now + 20, now: now + 10).isEmpty,
            "nobody takes over a run whose create is on its way")
    }

    /// A send mark whose write is retried (the database was away) lands after a renewal that
    /// got through first: the later expiry stays.
    @Test(arguments: StoreKind.allCases)
    func aSendMarkWrittenLateKeepsALaterRenewal(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        _ = try await enqueue(f.store)
        let claimed = try #require(try await f.store.claim(.submission, owner: "w1", limit: 1, leaseUntil: now + 5, now: now).first)
        let mark = try #require(
            RunUpdate.make(.markSend(promptVersion: "v", leaseUntil: now + 6), on: claimed, at: now + 1, actor: "w1"))
        #expect(try await f.store.renewLeases([claimed.id], owner: "w1", until: now + 40) == 1)
        #expect(try await f.store.save(mark))
        #expect(try await f.store.run(claimed.id, tenant: nil)?.leaseExpiresAt == now + 40)
        #expect(try await f.other.claim(.abandonedSubmission, owner: "w2", limit: 10, leaseUntil: now + 60, now: now + 30).isEmpty)
        // A step that gives the lease up still clears it.
        let accepted = try #require(
            RunUpdate.make(
                .accept(responseID: ResponseID("resp_1"), providerStatus: "queued", firstPollAt: now + 9), on: mark.run, at: now + 2,
                actor: "w1"))
        #expect(try await f.store.save(accepted))
        #expect(try await f.store.run(claimed.id, tenant: nil)?.leaseExpiresAt == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func anExpiredSubmissionLeaseIsReclaimedByAnotherOwner(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        _ = try await enqueue(f.store)
        let claimed = try await f.store.claim(.submission, owner: "dead", limit: 1, leaseUntil: now + 30, now: now)
        #expect(claimed.count == 1)
        #expect(try await f.store.claim(.abandonedSubmission, owner: "w2", limit: 10, leaseUntil: now + 90, now: now + 29).isEmpty)
        let reclaimed = try await f.other.claim(.abandonedSubmission, owner: "w2", limit: 10, leaseUntil: now + 90, now: now + 31)
        #expect(reclaimed.map(\.id) == claimed.map(\.id))
        #expect(reclaimed.first?.leaseOwner == "w2")
        // The dead owner's late write is refused.
        let late = try #require(
            RunUpdate.make(.markSend(promptVersion: "v", leaseUntil: now + 62), on: claimed[0], at: now + 32, actor: "dead"))
        #expect(try await f.store.save(late) == false)
    }

    @Test(arguments: StoreKind.allCases)
    func pollClaimsLeaseDueRunsAndAnExpiredPollLeaseComesBack(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await accepted(f.store, firstPollAt: now + 5)
        #expect(try await f.store.claim(.poll, owner: "p1", limit: 10, leaseUntil: now + 60, now: now + 4).isEmpty)
        let first = try await f.store.claim(.poll, owner: "p1", limit: 10, leaseUntil: now + 60, now: now + 5)
        #expect(first.map(\.id) == [run.id])
        #expect(try await f.other.claim(.poll, owner: "p2", limit: 10, leaseUntil: now + 120, now: now + 59).isEmpty)
        let second = try await f.other.claim(.poll, owner: "p2", limit: 10, leaseUntil: now + 120, now: now + 61)
        #expect(second.first?.leaseOwner == "p2")
        // p2 schedules the next poll; p1's stale schedule is refused.
        let p2 = try #require(
            RunUpdate.make(.schedulePoll(providerStatus: "in_progress", nextPollAt: now + 80), on: second[0], at: now + 62, actor: "p2"))
        let p1 = try #require(
            RunUpdate.make(.schedulePoll(providerStatus: "in_progress", nextPollAt: now + 70), on: first[0], at: now + 62, actor: "p1"))
        #expect(try await f.other.save([p2, p1]) == [true, false])
        let stored = try #require(try await f.store.run(run.id, tenant: nil))
        #expect(stored.nextPollAt == now + 80)
        #expect(stored.pollCount == 1)
        #expect(stored.leaseOwner == nil)
        #expect(try await f.store.nextDueDate() == now + 80)
    }

    @Test(arguments: StoreKind.allCases)
    func twoProcessesClaimingAtOnceNeverGetTheSameRun(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        for i in 0..<200 { _ = try await enqueue(f.store, at: now + Double(i) * 0.001) }
        let stores = [f.store, f.other]
        let claims = try await withThrowingTaskGroup(of: [RunID].self) { group in
            for worker in 0..<4 {
                group.addTask {
                    var mine: [RunID] = []
                    while true {
                        let batch = try await stores[worker % 2].claim(
                            .submission, owner: "w\(worker)", limit: 7, leaseUntil: now + 600, now: now + 60)
                        if batch.isEmpty { return mine }
                        mine += batch.map(\.id)
                        await Task.yield()
                    }
                }
            }
            return try await group.reduce(into: [[RunID]]()) { $0.append($1) }
        }
        let all = claims.flatMap { $0 }
        #expect(all.count == 200)
        #expect(Set(all).count == 200, "no run was claimed twice")
        #expect(claims.filter { !$0.isEmpty }.count >= 2, "the work was shared")
    }

    @Test(arguments: StoreKind.sqlBackends)
    func aRowInsertedByPlainSQLWithFourColumnsIsClaimable(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        try await f.executeSQL(
            "INSERT INTO ai_runs (id, tenant_id, feature, input) VALUES ('run_fromrails1', 'acme', 'document_summary', '{\"text\":\"Hi\"}')"
        )
        let claimed = try await f.store.claim(.submission, owner: "w", limit: 10, leaseUntil: Date() + 60, now: Date() + 1)
        #expect(claimed.map(\.id.rawValue) == ["run_fromrails1"])
        let run = try #require(claimed.first)
        #expect(run.attempt == 0 && run.pollCount == 0)
        #expect(run.policy == .object([:]))
        #expect(run.input["text"] == "Hi")
        #expect(run.tenantID == TenantID("acme"))
    }

    @Test(arguments: StoreKind.allCases)
    func cancellingAQueuedRunEndsItAtOnceAndAnInFlightRunGetsARequest(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let queued = try await enqueue(f.store)
        let cancelled = try await service(f.store).cancel(queued.id, tenant: TenantID("t1"), now: now + 1)
        #expect(cancelled.status == .cancelled)
        #expect(cancelled.cancelRequestedAt == now + 1)

        let flying = try await accepted(f.store, firstPollAt: now + 500)
        let requested = try await service(f.store).cancel(flying.id, tenant: TenantID("t1"), now: now + 2)
        #expect(requested.status == .inProgress)
        #expect(requested.cancelRequestedAt == now + 2)
        #expect(try await f.store.run(flying.id, tenant: nil)?.nextPollAt == now + 2, "the poller sees it now")
        await #expect(throws: KilnError.self) { try await service(f.store).cancel(flying.id, tenant: TenantID("other"), now: now) }
        // An application's cancel request survives Kiln's later writes of its own half.
        let claimed = try #require(try await f.store.claim(.poll, owner: "p", limit: 1, leaseUntil: now + 60, now: now + 3).first)
        #expect(claimed.cancelRequestedAt == now + 2)
    }

    @Test(arguments: StoreKind.allCases)
    func theSummaryCountsByStatus(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        _ = try await accepted(f.store, firstPollAt: now + 5)
        let q = try await enqueue(f.store, at: now)
        _ = try await enqueue(f.store, at: now + 1)
        _ = try await service(f.store).cancel(q.id, tenant: TenantID("t1"), now: now + 2)
        let summary = try await f.store.summary()
        #expect(summary.counts["queued"] == 1)
        #expect(summary.counts["in_progress"] == 1)
        #expect(summary.counts["cancelled"] == 1)
        #expect(summary.inFlight == 1)
        #expect(summary.oldestQueuedAt == now + 1)
    }

    @Test(arguments: StoreKind.sqlBackends)
    func learnedRunTimesCountRowsWithoutAModelAsTheDefaultModel(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        // (id, policy, status, seconds from submission to the provider's completion)
        let rows = [
            ("a", "{}", "completed", 100), ("b", #"{"model": "gpt-5-mini"}"#, "completed", 50),
            ("c", #"{"model": "gpt-5"}"#, "completed", 300), ("d", "{}", "failed", 7),
        ]
        for (id, policy, status, seconds) in rows {
            try await f.executeSQL(
                """
                INSERT INTO ai_runs (id, tenant_id, feature, input, policy, status, submitted_at, provider_completed_at, finalized_at)
                VALUES ('\(id)', 't1', 'document_summary', '{"text": "x"}', '\(policy)', '\(status)',
                        '2027-01-15T08:00:00.000Z', '2027-01-15T08:\(String(format: "%02d:%02d", seconds / 60, seconds % 60)).000Z',
                        '2027-01-15T09:00:00.000Z')
                """)
        }
        func learned(_ model: String, default defaultModel: String) async throws -> [Double] {
            try await f.store.recentRunDurations(feature: "document_summary", model: model, defaultModel: defaultModel, limit: 10).sorted()
        }
        #expect(try await learned("gpt-5-mini", default: "gpt-5-mini") == [50, 100], "an app's row with policy {} ran on the default")
        #expect(try await learned("gpt-5", default: "gpt-5-mini") == [300])
        #expect(try await learned("gpt-5", default: "gpt-5") == [100, 300])
    }

    /// A run the provider accepted, in flight.
    func accepted(_ store: any RunStore, firstPollAt: Date) async throws -> Run {
        let run = try await enqueue(store, at: now - 10)
        let claimed = try #require(
            try await store.claim(.submission, owner: "s", limit: 100, leaseUntil: now + 60, now: now).first { $0.id == run.id })
        let update = try #require(
            RunUpdate.make(
                .accept(responseID: ResponseID("resp_\(run.id.rawValue)"), providerStatus: "queued", firstPollAt: firstPollAt),
                on: claimed, at: now, actor: "s"))
        #expect(try await store.save(update))
        return update.run
    }
}
