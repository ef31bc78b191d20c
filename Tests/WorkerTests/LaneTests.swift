import Foundation
import KilnDomain
import KilnPostgres
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// Lanes end to end against the simulator (which reports the tier it served), on both backends:
/// the cost of each equals a hand computation from the reported usage and the configured prices;
/// a flex refusal re-queues at no attempt and falls back to standard; quota exhaustion stops sends.
@Suite("Lanes: flex, windows, quota", .serialized)
struct LaneTests {
    typealias Backend = DocumentTreeTests.Backend

    static func enqueue(_ store: any RunStore, _ text: String, policy: JSONValue) async throws -> Run {
        try await RunService(store: store, actor: "app").enqueue(
            .init(feature: "document_summary", tenant: TenantID("acme"), input: ["text": .string(text)], policy: policy)
        ).run
    }

    /// (input × 0.25 + output × 2) µ$ per token (gpt-5-mini) × the lane's multiplier, rounded up — by hand.
    static func handCost(_ usage: RunUsage, _ multiplier: Double) -> Int64 {
        Int64((Double(usage.inputTokens * 250_000 + usage.outputTokens * 2_000_000) * multiplier / 1_000_000).rounded(.up))
    }

    @Test(arguments: Backend.allCases)
    func eachLaneCostsWhatTheProviderBills(backend: Backend) async throws {
        // A window's run may wait in the provider's queue: here up to half a second.
        try await Harness.with(simulator: Harness.simulator { $0.windowQueueWaitMax = 0.5 }) { h in
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let standard = try await Self.enqueue(store, "A standard report.", policy: [:])
            let flex = try await Self.enqueue(store, "A flex report.", policy: ["lane": "flex"])
            let window = try await Self.enqueue(store, "A patient report.", policy: ["lane": "window_2h", "deadline_seconds": 7200])
            try await h.drain(store: store, timeout: 30)
            for (run, tier, multiplier) in [(standard, "default", 1.0), (flex, "flex", 0.5), (window, "default", 0.7)] {
                let done = try #require(try await store.run(run.id, tenant: nil))
                #expect(done.status == .completed, "\(run.id)")
                let usage = try #require(done.usage)
                #expect(usage.serviceTier == tier, "the tier the response reported")
                #expect(done.costMicros == Self.handCost(usage, multiplier), "\(tier) × \(multiplier)")
            }
            #expect(try await store.run(window.id, tenant: nil)?.usage?.completionWindow == "2h")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func aFlexRefusalRequeuesWithoutAnAttemptThenFallsBackToStandard(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.submitter.flexRetrySeconds = 0.2
            h.configuration.submitter.flexFallbackSeconds = 600  // first, patience (the deadline is an hour away): the refusal path
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let run = try await Self.enqueue(store, "[sim:flex_busy] A report nobody is waiting for.", policy: ["lane": "flex"])
            _ = try await h.withEnvironment(store: store) { try await Submitter(environment: $0).runOnce(now: Date()) }
            let refused = try #require(try await store.run(run.id, tenant: nil))
            #expect(refused.status == .queued && refused.attempt == 0, "not billed, no attempt spent")
            #expect(refused.error?.code == "resource_unavailable")
            let requeued = try #require(try await store.events(of: run.id).last)
            #expect(requeued.kind == "requeued" && requeued.details["reason"] == "flex_unavailable")

            // Then the wait is over (a fallback after half a second, which has passed): standard.
            h.configuration.submitter.flexFallbackSeconds = 0.5
            try await Task.sleep(for: .milliseconds(600))
            try await h.drain(store: store, timeout: 30)
            let done = try #require(try await store.run(run.id, tenant: nil))
            #expect(done.status == .completed)
            #expect(done.usage?.serviceTier == "default", "sent at standard in the end")
            #expect(done.costMicros == Self.handCost(try #require(done.usage), 1))
            let sends = try await store.events(of: run.id).filter { $0.kind == "send_started" }
            #expect(sends.last?.details["fallback_from"] == "flex", "the fallback is an event")
            #expect(sends.dropLast().allSatisfy { $0.details["fallback_from"] == nil })
            #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 1, "refusals create nothing at the provider")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func aResponseFailedForQuotaStopsSendingLikeA429(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.submitter.quotaPauseSeconds = 1.0
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let run = try await Self.enqueue(store, "[sim:quota_fail_once] A report.", policy: [:])
            try await h.drain(store: store, timeout: 30)
            let done = try #require(try await store.run(run.id, tenant: nil))
            #expect(done.status == .completed && done.attempt == 1, "the quota failure cost no attempt and did not fail the run")
            #expect(done.costMicros == Self.handCost(try #require(done.usage), 1))
            let events = try await store.events(of: run.id)
            let stop = try #require(events.first { $0.kind == "quota_exhausted" })
            #expect(stop.fromStatus == .inProgress && stop.toStatus == .queued)
            let resent = try #require(events.last { $0.kind == "send_started" })
            #expect(resent.at.timeIntervalSince(stop.at) >= 0.9, "sent again after the pause, not at once")
            #expect(try await store.summary().quotaExhaustedAt != nil, "kiln status says so")
            #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 2, "the failed response, then the one that ran")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test func flexRefusedAtRandomIsRetriedUntilServedAtFlex() async throws {
        // Half of all flex creates refused for capacity, as the provider may at any time.
        try await Harness.with(simulator: Harness.simulator { $0.flexBusyShare = 0.5 }) { h in
            h.configuration.submitter.flexRetrySeconds = 0.05
            let runs = try await (0..<6).asyncMap { i in try await h.enqueue("Flex report \(i).", policy: ["lane": "flex"]) }
            try await h.drain(timeout: 30)
            var refusals = 0
            for run in runs {
                let done = try await h.run(run.id)
                #expect(done.status == .completed && done.usage?.serviceTier == "flex" && done.attempt == 1, "\(run.id)")
                #expect(done.costMicros == Self.handCost(try #require(done.usage), 0.5))
                #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 1, "refusals create nothing")
                refusals += try await h.store.events(of: run.id).filter { $0.details["reason"] == "flex_unavailable" }.count
            }
            #expect(refusals > 0, "some sends were refused and re-queued (\(refusals))")
        }
    }

    @Test(arguments: Backend.allCases)
    func quotaExhaustionStopsSendingInsteadOfRequeueingForEver(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.submitter.quotaPauseSeconds = 1.5
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let broke = try await Self.enqueue(store, "[sim:no_quota] A report.", policy: [:])
            let (event, next): (RunEvent, Run) = try await h.withEnvironment(store: store) { environment in
                let submitter = Submitter(environment: environment)
                _ = try await submitter.runOnce(now: Date())
                let requeued = try #require(try await store.run(broke.id, tenant: nil))
                #expect(requeued.status == .queued && requeued.attempt == 0)
                let event = try #require(try await store.events(of: broke.id).last)
                #expect(event.kind == "quota_exhausted")
                #expect(try await store.summary().quotaExhaustedAt != nil, "kiln status says so")
                // Another run waits out the pause: nothing is sent for quota_pause_seconds.
                let next = try await Self.enqueue(store, "Another report.", policy: [:])
                _ = try await submitter.runOnce(now: Date())
                return (event, next)
            }
            let sent = try #require(try await store.run(next.id, tenant: nil)?.sendStartedAt)
            #expect(sent.timeIntervalSince(event.at) >= 1.4, "sent \(sent.timeIntervalSince(event.at)) s after the quota error")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }
}
