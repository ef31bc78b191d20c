import Foundation
import KilnDomain
import KilnPoller
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Logging
import Testing

/// The submitter and poller on the in-memory store, a scripted provider and a clock the
/// test moves: no network, no sleeps. (The same paths run end to end against SQLite,
/// PostgreSQL and the simulator in the other suites.)
@Suite("Submitter and poller, in milliseconds")
struct FastWorkerTests {
    let store = InMemoryRunStore()
    let clock = ManualClock()

    func environment(_ client: ScriptedClient, _ change: (inout KilnConfiguration) -> Void = { _ in }) -> WorkerEnvironment {
        var configuration = KilnConfiguration()
        change(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let clock = self.clock
        return WorkerEnvironment(
            store: store, client: client, configuration: configuration, owner: "test:1", logger: logger,
            clock: WorkerClock(now: { clock.now }, random: { 0 }))
    }

    func enqueue(policy: JSONValue = [:]) async throws -> Run {
        try await RunService(store: store, actor: "app").enqueue(
            .init(feature: "document_summary", tenant: TenantID("t"), input: ["text": "A document."], policy: policy), now: clock.now
        ).run
    }

    static func response(_ status: ProviderResponse.Status) -> ProviderResponse {
        ProviderResponse(
            id: ResponseID("resp_1"), status: status, outputText: status == .completed ? "The summary." : "",
            usage: status == .completed ? RunUsage(inputTokens: 100, outputTokens: 20, totalTokens: 120) : nil)
    }

    /// Submit at t = 0; poll when due, moving the clock to each due time, until the run ends.
    func work(_ run: Run, _ environment: WorkerEnvironment, maxPolls: Int = 100) async throws -> Run {
        _ = try await Submitter(environment: environment).runOnce(now: clock.now)
        for _ in 0..<maxPolls {
            let current = try #require(try await store.run(run.id, tenant: nil))
            guard current.status == .inProgress, let due = current.nextPollAt else { return current }
            clock.advance(by: max(0, due.timeIntervalSince(clock.now)))
            _ = try await Poller(environment: environment).runOnce(now: clock.now)
        }
        return try #require(try await store.run(run.id, tenant: nil))
    }

    @Test func aRunIsSentPolledOnItsScheduleAndFinalized() async throws {
        let run = try await enqueue()
        let start = clock.now
        let finishAt = start + 60
        let clock = self.clock
        let timed = ScriptedClient { call in
            if case .create = call { return .success(Self.response(.queued)) }
            return .success(Self.response(clock.now >= finishAt ? .completed : .inProgress))
        }
        let done = try await work(run, environment(timed))
        #expect(done.status == .completed && done.output?.text == "The summary.")
        #expect(done.finalizedAt.map { $0 >= finishAt } == true)
        // Nothing learned yet: the first poll at 5 s, then 9.5 % of the run's age (at least 2 s).
        let polls = timed.calls.filter { if case .retrieve = $0 { true } else { false } }.count
        #expect(polls == done.pollCount)
        // The schedule's rule, counted by hand: polls at 5 s, then every max(2 s, age × (growth − 1)).
        let growth = KilnConfiguration().poller.growth
        var at = 5.0
        var expected = 1
        while at < 60 {
            at += max(2, at * (growth - 1))
            expected += 1
        }
        #expect(polls == expected, "\(polls) polls for a 60 s run; the schedule says \(expected)")
        let kinds = try await store.events(of: run.id).map(\.kind)
        #expect(kinds == ["enqueued", "claimed", "send_started", "accepted", "finalized"])
    }

    @Test func aDeadlineCancelThatKeepsFailingEndsTimedOutAfterTheGracePeriod() async throws {
        let run = try await enqueue(policy: ["deadline_seconds": 30])
        let client = ScriptedClient { call in
            switch call {
            case .create: .success(Self.response(.queued))
            case .retrieve: .success(Self.response(.inProgress))
            default: .failure(ProviderError(kind: .retryable, httpStatus: 503, code: "unavailable", message: "down"))
            }
        }
        let environment = environment(client)
        let ended = try await work(run, environment, maxPolls: 200)
        #expect(ended.status == .timedOut, "not rescheduled for ever")
        let grace = PollDecision(settings: environment.configuration.poller, prices: [:]).deadlineCancelGraceSeconds
        #expect(ended.finalizedAt.map { $0 >= run.createdAt + 30 + grace } == true)
        #expect(client.calls.contains(.cancel(ResponseID("resp_1"))))
    }

    @Test func aDeadlineCancelAnswered404EndsTimedOut() async throws {
        let run = try await enqueue(policy: ["deadline_seconds": 30])
        let client = ScriptedClient { call in
            switch call {
            case .create: .success(Self.response(.queued))
            case .retrieve: .success(Self.response(.inProgress))
            default: .failure(ProviderError(kind: .notFound, httpStatus: 404, code: "not_found", message: "no such response"))
            }
        }
        let ended = try await work(run, environment(client))
        #expect(ended.status == .timedOut)
        #expect(ended.error?.code == "deadline_exceeded")
    }

    @Test func anInFlightRunWhosePolicyBecameInvalidIsCancelledAndFailed() async throws {
        let run = try await enqueue()
        let client = ScriptedClient { call in
            switch call {
            case .create: .success(Self.response(.queued))
            case .retrieve: .success(Self.response(.inProgress))
            case .cancel, .delete: .success(Self.response(.cancelled))
            }
        }
        let environment = environment(client)
        _ = try await Submitter(environment: environment).runOnce(now: clock.now)
        // The application rewrites the run's policy with a value Kiln refuses.
        store.edit(run.id) { $0.policy = ["max_attempts": 99] }
        clock.advance(by: 1800)
        _ = try await Poller(environment: environment).runOnce(now: clock.now)
        let ended = try #require(try await store.run(run.id, tenant: nil))
        #expect(ended.status == .failed)
        #expect(ended.error?.code == "invalid_policy")
        #expect(client.calls.contains(.cancel(ResponseID("resp_1"))), "the provider was told to stop")
        #expect(client.calls.last == .delete(ResponseID("resp_1")), "then its stored response was deleted")
    }
}
