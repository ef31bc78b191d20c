import Foundation
import KilnDomain
import Testing

/// The submitter's decisions, row by row: no network, no clock, no database.
@Suite("Submit decisions")
struct SubmitDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    let decision = SubmitDecision(settings: SubmitterSettings(), limits: InputLimits())
    let policy = RunPolicy(model: "gpt-5-mini", deadlineSeconds: 600, maxAttempts: 3)

    func claimed(attempt: Int = 0, feature: String = "document_summary") -> Run {
        var run = Run(id: RunID("run_1"), tenantID: TenantID("t"), feature: feature, input: ["text": "A document."], createdAt: Self.now)
        run.status = .submitting
        run.leaseOwner = "s"
        run.attempt = attempt
        return run
    }

    @Test func aValidRunIsSent() {
        guard
            case .send(let request, let version, let resolved) = decision.plan(
                for: claimed(), policy: .success(policy), features: .builtIn, now: Self.now)
        else {
            Issue.record("expected a send")
            return
        }
        #expect(request.model == "gpt-5-mini" && version.hasPrefix("document_summary/"))
        #expect(resolved == policy)
    }

    @Test func cancelledUnknownInvalidAndLateRunsAreSettledWithoutACall() {
        var cancelled = claimed()
        cancelled.cancelRequestedAt = Self.now
        #expect(
            decision.plan(for: cancelled, policy: .success(policy), features: .builtIn, now: Self.now) == .settle(.cancelBeforeSubmission))
        let unknown = decision.plan(for: claimed(feature: "poem"), policy: .success(policy), features: .builtIn, now: Self.now)
        guard case .settle(.fail(let failure)) = unknown else {
            Issue.record("expected a refusal")
            return
        }
        #expect(failure.code == "unknown_feature" && failure.source == .policy)
        let invalid = decision.plan(
            for: claimed(), policy: .failure(KilnError(.invalidPolicy, "bad")), features: .builtIn, now: Self.now)
        #expect(invalid == .settle(.fail(RunFailure(code: "invalid_policy", message: "bad", source: .policy))))
        #expect(
            decision.plan(for: claimed(), policy: .success(policy), features: .builtIn, now: Self.now + 600)
                == .settle(.timeOut(providerStatus: nil)))
    }

    @Test func anAcceptedCreateIsInFlight() {
        let response = ProviderResponse(id: ResponseID("resp_9"), status: .queued)
        #expect(
            decision.accepted(response, firstPollAt: Self.now + 5).transition
                == .accept(responseID: ResponseID("resp_9"), providerStatus: "queued", firstPollAt: Self.now + 5))
    }

    @Test func a429RequeuesGivesTheAttemptBackAndPausesEveryCall() {
        let limited = ProviderError(kind: .rateLimited, httpStatus: 429, code: "rate_limit_exceeded", message: "slow", retryAfter: 7)
        let verdict = decision.after(limited, sending: claimed(attempt: 1), policy: policy, now: Self.now, random: 0)
        #expect(verdict.transition == .requeue(availableAt: Self.now + 7, lastError: limited.failure, refundAttempt: true))
        #expect(verdict.pauseSeconds == 7)
    }

    @Test func aRetryableErrorBacksOffUntilTheAttemptsAreSpent() {
        let error = ProviderError(kind: .retryable, httpStatus: 500, code: "server_error", message: "boom")
        // attempt 2 of 3: base 2 s × 2^(2−1) = 4 s, spread to 2–4 s; random 0 gives 2 s.
        let again = decision.after(error, sending: claimed(attempt: 2), policy: policy, now: Self.now, random: 0)
        #expect(again.transition == .requeue(availableAt: Self.now + 2, lastError: error.failure))
        let spent = decision.after(error, sending: claimed(attempt: 3), policy: policy, now: Self.now, random: 0)
        guard case .fail(let failure) = spent.transition else {
            Issue.record("expected failure after the last attempt")
            return
        }
        #expect(failure.message.hasPrefix("attempts exhausted (3)"))
        let permanent = ProviderError(kind: .permanent, httpStatus: 400, code: "invalid_request_error", message: "no")
        #expect(
            decision.after(permanent, sending: claimed(attempt: 1), policy: policy, now: Self.now, random: 0).transition
                == .fail(permanent.failure))
    }

    @Test func anAmbiguousCreateIsResubmittedOrFailedAndAlwaysRecorded() {
        let timeout = ProviderError(kind: .ambiguous, code: "timeout", message: "no answer")
        let resubmit = decision.after(timeout, sending: claimed(attempt: 1), policy: policy, now: Self.now, random: 0)
        guard case .requeue = resubmit.transition else {
            Issue.record("resubmit is the default")
            return
        }
        #expect(resubmit.possibleDuplicate && resubmit.eventKind == "possible_duplicate" && resubmit.details["reason"] == "timeout")
        var failing = decision
        failing.settings.ambiguousSend = .fail
        let failed = failing.after(timeout, sending: claimed(attempt: 1), policy: policy, now: Self.now, random: 0)
        guard case .fail(let failure) = failed.transition else {
            Issue.record("the fail policy fails it")
            return
        }
        #expect(failure.code == "possible_duplicate" && failed.eventKind == "possible_duplicate")
    }

    @Test func anAbandonedSubmissionIsHandedBackOrTreatedAsAmbiguous() {
        #expect(decision.recover(claimed(), policy: policy, now: Self.now).transition == .release)
        var sent = claimed(attempt: 1)
        sent.sendStartedAt = Self.now - 90
        let recovered = decision.recover(sent, policy: policy, now: Self.now)
        #expect(recovered.eventKind == "possible_duplicate")
        #expect(recovered.details["reason"] == "process_lost_after_send")
    }
}
