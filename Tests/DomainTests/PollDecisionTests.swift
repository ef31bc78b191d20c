import Foundation
import KilnDomain
import Testing

/// The poller's decisions, row by row: no network, no clock, no database.
@Suite("Poll decisions")
struct PollDecisionTests {
    static let submitted = Date(timeIntervalSince1970: 1_800_000_000)
    let decision = PollDecision(settings: PollerSettings(), prices: KilnConfiguration().prices)
    let policy = RunPolicy(model: "gpt-5-mini", deadlineSeconds: 600)

    func inFlight(cancelRequested: Bool = false) -> Run {
        var run = Run.fixture(status: .inProgress, owner: "p", at: Self.submitted)
        run.responseID = ResponseID("resp_1")
        run.submittedAt = Self.submitted
        run.providerStatus = "in_progress"
        if cancelRequested { run.cancelRequestedAt = Self.submitted + 10 }
        return run
    }

    func response(_ status: ProviderResponse.Status) -> ProviderResponse {
        ProviderResponse(
            id: ResponseID("resp_1"), status: status, outputText: status == .completed ? "Done." : "",
            usage: status == .completed ? RunUsage(inputTokens: 100, outputTokens: 10, totalTokens: 110) : nil)
    }

    static let serverError = ProviderError(kind: .retryable, httpStatus: 500, code: "server_error", message: "boom")
    static let notFound = ProviderError(kind: .notFound, httpStatus: 404, code: "not_found", message: "gone")

    @Test func aRunWithoutAResponseIDFailsWithoutACall() {
        var run = inFlight()
        run.responseID = nil
        guard case .none(.fail(let failure)) = decision.call(for: run, policy: .success(policy), now: Self.submitted) else {
            Issue.record("expected a failure with no call")
            return
        }
        #expect(failure.code == "missing_response_id")
    }

    @Test func aDueRunIsRetrievedAndAFinishedResponseFinalizesIt() {
        let now = Self.submitted + 60
        let call = decision.call(for: inFlight(), policy: .success(policy), now: now)
        #expect(call == .retrieve(ResponseID("resp_1")))
        let verdict = decision.after(call, response: response(.completed), run: inFlight(), policy: .success(policy), now: now, random: 0)
        guard case .finish(let outcome) = verdict.transition else {
            Issue.record("expected finish, got \(verdict.transition)")
            return
        }
        #expect(outcome.status == .completed && outcome.output?.text == "Done.")
        #expect(!verdict.callFailed)
    }

    @Test func aRunningResponseIsPolledAgainOnTheGeometricSchedule() {
        let now = Self.submitted + 100
        let verdict = decision.after(
            .retrieve(ResponseID("resp_1")), response: response(.inProgress), run: inFlight(), policy: .success(policy), now: now, random: 0
        )
        // 100 s old × (1.095 − 1) = 9.5 s, no jitter at random 0.
        #expect(verdict.transition == .schedulePoll(providerStatus: "in_progress", nextPollAt: now + 100 * (PollerSettings().growth - 1)))
    }

    @Test func aCancelRequestIsCarriedOutAtTheProvider() {
        let run = inFlight(cancelRequested: true)
        let call = decision.call(for: run, policy: .success(policy), now: Self.submitted + 20)
        #expect(call == .cancel(ResponseID("resp_1"), .requested))
        let verdict = decision.after(
            call, response: response(.cancelled), run: run, policy: .success(policy), now: Self.submitted + 20, random: 0)
        guard case .finish(let outcome) = verdict.transition else {
            Issue.record("expected finish")
            return
        }
        #expect(outcome.status == .cancelled)
    }

    @Test func pastTheDeadlineTheRunIsCancelledAndTimesOut() {
        let late = Self.submitted + 601
        let call = decision.call(for: inFlight(), policy: .success(policy), now: late)
        #expect(call == .cancel(ResponseID("resp_1"), .deadline))
        #expect(
            decision.after(call, response: response(.cancelled), run: inFlight(), policy: .success(policy), now: late, random: 0).transition
                == .timeOut(providerStatus: "cancelled"))
        #expect(
            decision.after(call, response: response(.inProgress), run: inFlight(), policy: .success(policy), now: late, random: 0)
                .transition
                == .timeOut(providerStatus: "in_progress"), "the deadline is Kiln's to keep")
    }

    @Test func aDeadlineCancelAnswered404TimesOutRatherThanFailing() {
        let late = Self.submitted + 601
        let verdict = decision.after(
            .cancel(ResponseID("resp_1"), .deadline), error: Self.notFound, run: inFlight(), policy: .success(policy), now: late, random: 0)
        #expect(verdict.transition == .timeOut(providerStatus: nil))
    }

    @Test func aDeadlineCancelThatKeepsFailingIsRetriedThenTimesOut() {
        let call = PollDecision.Call.cancel(ResponseID("resp_1"), .deadline)
        let soon = decision.after(
            call, error: Self.serverError, run: inFlight(), policy: .success(policy), now: Self.submitted + 610, random: 0)
        guard case .schedulePoll = soon.transition else {
            Issue.record("within the grace period a failed cancel is tried again, got \(soon.transition)")
            return
        }
        #expect(soon.callFailed)
        let grace = decision.deadlineCancelGraceSeconds
        let later = decision.after(
            call, error: Self.serverError, run: inFlight(), policy: .success(policy), now: Self.submitted + 600 + grace, random: 0)
        #expect(later.transition == .timeOut(providerStatus: "in_progress"))
        #expect(later.details["provider_cancel"] == "failed")
    }

    @Test func anInvalidStoredPolicyIsCancelledAndFailedNotWorkedWithTheDefaults() {
        let invalid = KilnError(.invalidPolicy, "max_attempts must be in 1...20, got 99")
        let call = decision.call(for: inFlight(), policy: .failure(invalid), now: Self.submitted + 30)
        #expect(call == .cancel(ResponseID("resp_1"), .invalidPolicy))
        for verdict in [
            decision.after(
                call, response: response(.completed), run: inFlight(), policy: .failure(invalid), now: Self.submitted + 30, random: 0),
            decision.after(call, error: Self.serverError, run: inFlight(), policy: .failure(invalid), now: Self.submitted + 30, random: 0),
        ] {
            guard case .fail(let failure) = verdict.transition else {
                Issue.record("expected failure, got \(verdict.transition)")
                continue
            }
            #expect(failure.code == "invalid_policy" && failure.message.contains("max_attempts"))
        }
    }

    @Test func aRetrieveErrorBacksOffAndA429PausesEveryCall() {
        let limited = ProviderError(kind: .rateLimited, httpStatus: 429, code: "rate_limit_exceeded", message: "slow down", retryAfter: 30)
        let now = Self.submitted + 100
        let verdict = decision.after(
            .retrieve(ResponseID("resp_1")), error: limited, run: inFlight(), policy: .success(policy), now: now, random: 0)
        #expect(verdict.pauseSeconds == 30)
        #expect(verdict.callFailed)
        #expect(verdict.transition == .schedulePoll(providerStatus: "in_progress", nextPollAt: now + 30), "the provider's wait wins")
        let gone = decision.after(
            .retrieve(ResponseID("resp_1")), error: Self.notFound, run: inFlight(), policy: .success(policy), now: now, random: 0)
        guard case .fail(let failure) = gone.transition else {
            Issue.record("a 404 on a retrieve fails the run")
            return
        }
        #expect(failure.code == "response_not_found")
    }

    /// A run with a `2h` window that waited an hour in the provider's queue: once a poll sees
    /// it running, its polls follow the generation, not the hour it queued (which would clamp
    /// every interval at the 120 s maximum and let the result land up to two minutes late).
    @Test func aWindowRunsPollsCountFromWhenItLeftTheQueue() throws {
        let windowPolicy = RunPolicy(model: "gpt-5-mini", deadlineSeconds: 8 * 3600, completionWindow: .twoHours)
        var run = inFlight()
        run.providerStatus = "queued"
        let now = Self.submitted + 3600
        let queued = decision.after(
            .retrieve(ResponseID("resp_1")), response: response(.queued), run: run, policy: .success(windowPolicy), now: now, random: 0)
        guard case .schedulePoll(_, let whileQueued) = queued.transition else {
            Issue.record("not rescheduled")
            return
        }
        #expect(whileQueued.timeIntervalSince(now) == PollerSettings().maxIntervalSeconds, "queued: the maximum interval")

        let seen = decision.after(
            .retrieve(ResponseID("resp_1")), response: response(.inProgress), run: run, policy: .success(windowPolicy), now: now, random: 0)
        guard case .schedulePoll(_, let next) = seen.transition else {
            Issue.record("not rescheduled")
            return
        }
        #expect(next.timeIntervalSince(now) < 10, "the generation is at most minutes old, not an hour")
        let update = try #require(RunUpdate.make(seen.transition, on: run, at: now, actor: "p"))
        #expect(update.run.providerStartedAt == now, "recorded when a poll first saw it running")

        // Later polls keep counting from there: ten minutes into the generation, about a minute apart.
        var running = update.run
        running.providerStatus = "in_progress"
        let later = decision.after(
            .retrieve(ResponseID("resp_1")), response: response(.inProgress), run: running, policy: .success(windowPolicy),
            now: now + 600, random: 0)
        guard case .schedulePoll(_, let after) = later.transition else {
            Issue.record("not rescheduled")
            return
        }
        #expect((55...65).contains(after.timeIntervalSince(now + 600)), "\(after.timeIntervalSince(now + 600))")
    }
}
