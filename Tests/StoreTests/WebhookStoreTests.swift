import Foundation
import KilnDomain
import KilnTestSupport
import Testing

/// Webhook deliveries on every backend: recorded once, runs made due, unmatched ones leased
/// to one poller at a time, orphans recorded once with their cost.
@Suite("Webhook deliveries in the store")
struct WebhookStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func delivery(_ id: String, response: String?, type: String = "response.completed", at: Date? = nil) -> WebhookDelivery {
        WebhookDelivery(webhookID: id, eventType: type, responseID: response.map(ResponseID.init), receivedAt: at ?? now)
    }

    @Test(arguments: StoreKind.allCases)
    func aDeliveryMakesItsRunDueOnceAndAReplayDoesNothing(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await f.store.inFlightRun(response: "resp_a", firstPollAt: now + 600, now: now)
        #expect(try await f.store.recordWebhook(delivery("wh_1", response: "resp_a"), now: now + 1) == .madeDue(run.id))
        #expect(try await f.store.run(run.id, tenant: nil)?.nextPollAt == now + 1, "due now, not in ten minutes")
        #expect(try await f.other.recordWebhook(delivery("wh_1", response: "resp_a"), now: now + 2) == .duplicate)
        #expect(try await f.store.run(run.id, tenant: nil)?.nextPollAt == now + 1)
        let polled = try await f.store.claim(.poll, owner: "p", limit: 10, leaseUntil: now + 60, now: now + 1)
        #expect(polled.map(\.id) == [run.id])
        #expect(try await f.store.recordWebhook(delivery("wh_2", response: nil, type: "batch.completed"), now: now + 3) == .ignored)
        #expect(try await f.store.claimUnmatchedWebhooks(owner: "p", limit: 10, leaseUntil: now + 30, now: now + 3).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func anUnmatchedDeliveryIsLeasedToOnePollerAtATime(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        #expect(try await f.store.recordWebhook(delivery("wh_early", response: "resp_early"), now: now) == .unmatched)
        let first = try await f.store.claimUnmatchedWebhooks(owner: "p1", limit: 10, leaseUntil: now + 30, now: now + 1)
        #expect(first.map(\.webhookID) == ["wh_early"])
        #expect(first.first?.responseID == ResponseID("resp_early"))
        #expect(try await f.other.claimUnmatchedWebhooks(owner: "p2", limit: 10, leaseUntil: now + 60, now: now + 2).isEmpty)
        let again = try await f.other.claimUnmatchedWebhooks(owner: "p2", limit: 10, leaseUntil: now + 90, now: now + 31)
        #expect(again.map(\.webhookID) == ["wh_early"], "a lease that ran out is taken over")
        try await f.other.markWebhookHandled("wh_early", now: now + 32)
        #expect(try await f.store.claimUnmatchedWebhooks(owner: "p1", limit: 10, leaseUntil: now + 200, now: now + 100).isEmpty)
        // Remembered until it expires: a replay days later is still a duplicate, a week later it is forgotten.
        #expect(try await f.store.recordWebhook(delivery("wh_early", response: "resp_early"), now: now + 70 * 3600) == .duplicate)
        #expect(
            try await f.store.recordWebhook(delivery("wh_later", response: "resp_b", at: now + 7 * 86400), now: now + 7 * 86400)
                == .unmatched)
        #expect(
            try await f.store.recordWebhook(delivery("wh_early", response: "resp_early", at: now + 7 * 86400), now: now + 7 * 86400)
                == .unmatched)
    }

    @Test(arguments: StoreKind.allCases)
    func anOrphanIsRecordedOnceWithItsCost(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await f.store.inFlightRun(response: "resp_kept", firstPollAt: now + 600, now: now)
        let orphan = OrphanResponse(
            runID: run.id, responseID: ResponseID("resp_dup"), providerStatus: "completed", attempt: 1,
            usage: RunUsage(inputTokens: 1000, outputTokens: 500, totalTokens: 1500), costMicros: 1250, at: now + 5, actor: "p",
            runStatus: run.status)
        #expect(try await f.store.recordOrphan(orphan))
        #expect(try await f.other.recordOrphan(orphan) == false, "once per response")
        let stored = try #require(try await f.store.run(run.id, tenant: nil))
        #expect(stored.orphanCostMicros == 1250)
        #expect(stored.status == .inProgress && stored.responseID == ResponseID("resp_kept"), "the run itself is untouched")
        let events = try await f.store.events(of: run.id).filter { $0.kind == "orphan_response" }
        #expect(events.count == 1)
        #expect(events.first?.details["response_id"] == "resp_dup")
        let summary = try await f.store.summary()
        #expect(summary.orphanResponses == 1)
        #expect(summary.orphanCostMicros == 1250)
        #expect(summary.costMicros == 1250, "the bill includes what the orphan cost")
    }

    /// A poll holding the run's lease may have just seen the response still running: the
    /// nudge must outlive that poll, or the result waits for the next scheduled poll.
    @Test(arguments: StoreKind.allCases)
    func aDeliveryDuringAPollIsKeptUntilThePollIsWritten(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await f.store.inFlightRun(response: "resp_busy", firstPollAt: now + 600, now: now)
        let polling = try #require(try await f.store.claim(.poll, owner: "p", limit: 10, leaseUntil: now + 660, now: now + 600).first)
        #expect(try await f.store.recordWebhook(delivery("wh_busy", response: "resp_busy"), now: now + 601) == .unmatched)
        let reschedule = try #require(
            RunUpdate.make(.schedulePoll(providerStatus: "in_progress", nextPollAt: now + 1200), on: polling, at: now + 602, actor: "p"))
        #expect(try await f.store.save(reschedule))
        let kept = try await f.other.claimUnmatchedWebhooks(owner: "p", limit: 10, leaseUntil: now + 700, now: now + 603)
        #expect(kept.map(\.webhookID) == ["wh_busy"])
        #expect(try await f.other.makeDue(response: ResponseID("resp_busy"), now: now + 603) == run.id)
        #expect(try await f.store.run(run.id, tenant: nil)?.nextPollAt == now + 603, "due now, not at the rescheduled poll")
    }
}
