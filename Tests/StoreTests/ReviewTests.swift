import Foundation
import KilnDomain
import Testing

/// Review decisions and displays: written through `RunService` or by plain SQL, refused the
/// same way and audited the same way, on every backend.
@Suite("Reviews and displays")
struct ReviewTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func service(_ store: any RunStore) -> RunService { RunService(store: store, actor: "test") }

    /// A run taken through claim, accept and a completed finish, as the worker would.
    func completed(_ store: any RunStore, review: Bool = true) async throws -> Run {
        let run = try await service(store).enqueue(
            RunService.Request(
                feature: "document_summary", tenant: TenantID("t1"), input: ["text": "A document."],
                policy: ["requires_review": .bool(review)]), now: now
        ).run
        let claimed = try #require(
            try await store.claim(.submission, owner: "s", limit: 100, leaseUntil: now + 60, now: now).first { $0.id == run.id })
        let accept = try #require(
            RunUpdate.make(
                .accept(responseID: ResponseID("resp_\(run.id.rawValue)"), providerStatus: "queued", firstPollAt: now),
                on: claimed, at: now, actor: "s"))
        #expect(try await store.save(accept))
        let polled = try #require(
            try await store.claim(.poll, owner: "p", limit: 100, leaseUntil: now + 60, now: now + 1).first { $0.id == run.id })
        let outcome = ProviderOutcome(
            status: .completed, providerStatus: "completed", output: RunOutput(text: "A summary."), requiresReview: review)
        let finish = try #require(RunUpdate.make(.finish(outcome), on: polled, at: now + 2, actor: "p"))
        #expect(try await store.save(finish))
        return try #require(try await store.run(run.id, tenant: nil))
    }

    @Test(arguments: StoreKind.allCases)
    func decisionsAreRecordedOnceWithTheirActorAndEvented(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let accepted = try await completed(f.store)
        #expect(accepted.reviewState == "pending")
        let decided = try await service(f.store).review(accepted.id, tenant: TenantID("t1"), .accept, by: "alice", now: now + 3)
        #expect(decided.reviewState == "accepted")
        #expect(decided.reviewedBy == "alice")
        #expect(decided.reviewedAt == now + 3)
        #expect(decided.reviewedOutput == nil)
        let event = try #require(try await f.store.events(of: accepted.id).last)
        #expect(event.kind == "reviewed")
        #expect(event.actor == "alice")
        #expect(event.at == now + 3)
        #expect(event.details["review_state"] == "accepted")
        #expect(event.details["previous"] == "pending")

        // A second decision is refused, whoever asks, and changes nothing.
        await #expect(throws: KilnError.self) {
            try await service(f.store).review(accepted.id, tenant: TenantID("t1"), .discard, by: "bob", now: now + 4)
        }
        await #expect(throws: KilnError.self) {
            try await f.store.record(.review(.discard, by: "bob", at: now + 4), on: accepted.id, tenant: TenantID("t1"))
        }
        #expect(try await f.store.run(accepted.id, tenant: nil)?.reviewState == "accepted")
        #expect(try await f.store.events(of: accepted.id).filter { $0.kind == "reviewed" }.count == 1)

        // Another tenant's run is not found.
        await #expect(throws: KilnError.self) {
            try await service(f.store).review(accepted.id, tenant: TenantID("t2"), .accept, by: "mallory")
        }
        #expect(try await f.store.record(.displayed(by: "m", at: now), on: accepted.id, tenant: TenantID("t2")) == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func anEditKeepsTheOriginalBesideTheEditAndDisplaysAreEvented(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await completed(f.store, review: false)
        #expect(run.reviewState == nil, "a decision is also possible on a run that did not require review")
        let edited = try await service(f.store).review(
            run.id, tenant: TenantID("t1"), .edit(.text("A better summary.")), by: "carol", now: now + 5)
        #expect(edited.reviewState == "edited")
        #expect(edited.reviewedOutput == ["text": "A better summary."])
        #expect(edited.output?.text == "A summary.", "the model's original stays")
        await #expect(throws: KilnError.self, "a text feature takes a text edit") {
            try await service(f.store).review(run.id, tenant: TenantID("t1"), .edit(.json(["a": 1])), by: "carol")
        }
        let shown = try await service(f.store).markDisplayed(run.id, tenant: TenantID("t1"), by: "dave", now: now + 6)
        #expect(shown.displayedAt == now + 6)
        #expect(shown.displayedBy == "dave")
        _ = try await service(f.store).markDisplayed(run.id, tenant: TenantID("t1"), by: "erin", now: now + 7)
        let events = try await f.store.events(of: run.id)
        #expect(events.suffix(3).map(\.kind) == ["reviewed", "displayed", "displayed"])
        #expect(events.suffix(2).map(\.actor) == ["dave", "erin"])
    }

    @Test(arguments: StoreKind.allCases)
    func aRunThatIsNotCompletedCannotBeReviewedOrDisplayed(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let queued = try await service(f.store).enqueue(
            RunService.Request(feature: "document_summary", tenant: TenantID("t1"), input: ["text": "Doc."]), now: now
        ).run
        for mark in [RunMark.review(.accept, by: "alice", at: now), .displayed(by: "alice", at: now)] {
            await #expect(throws: KilnError.self) { try await f.store.record(mark, on: queued.id, tenant: TenantID("t1")) }
        }
        do {
            _ = try await service(f.store).review(queued.id, tenant: TenantID("t1"), .accept, by: "alice")
            Issue.record("a queued run was reviewed")
        } catch let error as KilnError {
            #expect(error.code == .conflict)
            #expect(error.message.contains("is queued; only a completed run can be reviewed"))
        }
        let stored = try #require(try await f.store.run(queued.id, tenant: nil))
        #expect(stored.reviewState == nil && stored.reviewedBy == nil && stored.displayedAt == nil)
        #expect(try await f.store.events(of: queued.id).map(\.kind) == ["enqueued"])
    }

    /// What an app in another language writes, and what the table does with it.
    @Test(arguments: StoreKind.sqlBackends)
    func decisionsWrittenByPlainSQLAreCheckedAndEvented(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await completed(f.store)
        let id = run.id.rawValue
        try await f.executeSQL(
            "UPDATE ai_runs SET review_state = 'edited', reviewed_by = 'php:42', reviewed_output = '{\"text\":\"Edited in Laravel.\"}' WHERE id = '\(id)'"
        )
        let edited = try #require(try await f.store.run(run.id, tenant: nil))
        #expect(edited.reviewState == "edited")
        #expect(edited.reviewedBy == "php:42")
        #expect(edited.reviewedAt != nil, "the table stamps the decision's time")
        #expect(edited.reviewedOutput == ["text": "Edited in Laravel."])
        let event = try #require(try await f.store.events(of: run.id).last)
        #expect(event.kind == "reviewed" && event.actor == "php:42")
        #expect(event.details["edited"] == .bool(true))

        // Refused by the table: a second decision, tampering with a final one, a decision
        // without who made it, an edit without its output, a decision on a queued run.
        let refused = [
            "UPDATE ai_runs SET review_state = 'accepted', reviewed_by = 'x', reviewed_output = NULL WHERE id = '\(id)'",
            "UPDATE ai_runs SET reviewed_output = '{\"text\":\"changed later\"}' WHERE id = '\(id)'",
        ]
        for sql in refused {
            await #expect(throws: (any Error).self, "\(sql)") { try await f.executeSQL(sql) }
        }
        let other = try await service(f.store).enqueue(
            RunService.Request(feature: "document_summary", tenant: TenantID("t1"), input: ["text": "Doc."]), now: now
        ).run
        for sql in [
            "UPDATE ai_runs SET review_state = 'accepted', reviewed_by = 'x' WHERE id = '\(other.id.rawValue)'",
            "UPDATE ai_runs SET displayed_at = '2027-01-01T00:00:00.000Z' WHERE id = '\(other.id.rawValue)'",
        ] {
            await #expect(throws: (any Error).self, "\(sql)") { try await f.executeSQL(sql) }
        }
        let fresh = try await completed(f.store)
        for sql in [
            "UPDATE ai_runs SET review_state = 'accepted' WHERE id = '\(fresh.id.rawValue)'",
            "UPDATE ai_runs SET review_state = 'edited', reviewed_by = 'x' WHERE id = '\(fresh.id.rawValue)'",
            "UPDATE ai_runs SET review_state = 'approved', reviewed_by = 'x' WHERE id = '\(fresh.id.rawValue)'",
        ] {
            await #expect(throws: (any Error).self, "\(sql)") { try await f.executeSQL(sql) }
        }
        #expect(try await f.store.run(fresh.id, tenant: nil)?.reviewState == "pending")
        #expect(try await f.store.run(run.id, tenant: nil)?.reviewedOutput == ["text": "Edited in Laravel."])
        #expect(try await f.store.events(of: run.id).filter { $0.kind == "reviewed" }.count == 1)

        // A display written by SQL is evented with its viewer.
        try await f.executeSQL(
            "UPDATE ai_runs SET displayed_at = '2027-01-01T00:00:00.000Z', displayed_by = 'rails:7' WHERE id = '\(id)'")
        let shown = try #require(try await f.store.events(of: run.id).last)
        #expect(shown.kind == "displayed" && shown.actor == "rails:7")
    }
}
