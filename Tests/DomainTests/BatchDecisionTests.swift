import Foundation
import KilnDomain
import Testing

/// What each line of a batch's results means for its run, row by row, as pure functions.
@Suite("Batch decisions")
struct BatchDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    let decision = BatchDecision(
        prices: ["gpt-5-mini": ModelPrice(inputPerMillionMicros: 250_000, outputPerMillionMicros: 2_000_000)],
        pricing: PricingSettings(), features: .builtIn)
    let policy: Result<RunPolicy, KilnError> = .success(RunPolicy(lane: .batch))

    /// A run a batch holds, in flight at the provider.
    func held(cancelled: Bool = false) -> Run {
        var run = Run.fixture(status: .inProgress, owner: KilnBatch.leaseName("kbatch_1"))
        run.batchID = "kbatch_1"
        run.attempt = 1
        run.sendStartedAt = Self.now
        if cancelled { run.cancelRequestedAt = Self.now }
        return run
    }

    func completed() -> ProviderResponse {
        var response = ProviderResponse(id: ResponseID("resp_1"), status: .completed)
        response.outputText = "A summary."
        response.usage = RunUsage(inputTokens: 1_000, outputTokens: 300, totalTokens: 1_300)
        return response
    }

    func settle(_ run: Run, _ result: BatchResult?, status: String = "completed") -> BatchDecision.Verdict {
        decision.settle(run, result: result, batchStatus: status, providerBatchID: "batch_1", policy: policy, now: Self.now)
    }

    @Test func aResponseFinishesTheRunAtBatchRates() throws {
        let verdict = settle(held(), .response(completed()))
        guard case .finish(let outcome) = verdict.transition else {
            Issue.record("\(verdict.transition)")
            return
        }
        #expect(outcome.status == .completed && outcome.output?.text == "A summary.")
        // (1,000 × 0.25 + 300 × 2) µ$ per token × 0.5 = 425 µ$.
        #expect(outcome.costMicros == 425 && outcome.usage?.batchID == "batch_1")
        #expect(verdict.details["batch"] == "batch_1")
    }

    @Test func aRunCancelledAfterUploadEndsCancelledWithWhatItCost() throws {
        guard case .finish(let outcome) = settle(held(cancelled: true), .response(completed())).transition else {
            Issue.record("not finished")
            return
        }
        #expect(outcome.status == .cancelled && outcome.output == nil && outcome.costMicros == 425)
    }

    @Test func aRequestTheBatchDidNotRunGoesBackToTheQueue() {
        for (result, status) in [
            (BatchResult.error(status: nil, code: "batch_expired", message: "x"), "expired"),
            (.error(status: nil, code: "batch_cancelled", message: "x"), "cancelled"), (nil, "expired"),
        ] as [(BatchResult?, String)] {
            let verdict = settle(held(), result, status: status)
            guard case .leaveBatch(let failure) = verdict.transition else {
                Issue.record("\(status): \(verdict.transition)")
                continue
            }
            #expect(failure.code.hasPrefix("batch_"))
            let next = verdict.transition.apply(to: held(), at: Self.now)
            #expect(next?.status == .queued && next?.attempt == 0 && next?.batchID == "kbatch_1", "not billed: the attempt given back")
        }
        // Cancelled and not run: cancelled, nothing billed.
        guard case .finish(let outcome) = settle(held(cancelled: true), nil, status: "expired").transition else {
            Issue.record("not finished")
            return
        }
        #expect(outcome.status == .cancelled && outcome.costMicros == nil)
    }

    @Test func errorLinesFailOrRequeueAsACreateWould() {
        guard case .fail(let failure) = settle(held(), .error(status: 400, code: "invalid_value", message: "bad")).transition else {
            Issue.record("a 400 fails the run")
            return
        }
        #expect(failure.code == "invalid_value" && failure.source == .provider)
        for status in [429, 500, 503] {
            guard case .leaveBatch = settle(held(), .error(status: status, code: "x", message: "x")).transition else {
                Issue.record("\(status) goes back to the queue")
                continue
            }
        }
    }

    @Test func aCompletedBatchWithoutALineForARunNeverSendsItTwice() {
        guard case .fail(let failure) = settle(held(), nil, status: "completed").transition else {
            Issue.record("fails rather than re-queues")
            return
        }
        #expect(failure.code == "batch_missing_result")
    }

    @Test func aResponseFailedForQuotaIsTheAccountsStopNotTheRuns() {
        var response = ProviderResponse(id: ResponseID("resp_q"), status: .failed)
        response.errorCode = "rate_limit_exceeded"
        response.errorMessage = "You exceeded your current quota, please check your plan and billing details."
        #expect(PollDecision.isQuotaFailure(response))
        var poll = PollDecision(settings: PollerSettings(), prices: [:])
        poll.quotaPauseSeconds = 120
        var run = Run.fixture(status: .inProgress)
        run.responseID = ResponseID("resp_q")
        run.attempt = 1
        run.sendStartedAt = Self.now
        let verdict = poll.after(
            .retrieve(ResponseID("resp_q")), response: response, run: run, policy: .success(RunPolicy()), now: Self.now, random: 0.5)
        #expect(verdict.pauseSeconds == 120)
        let next = verdict.transition.apply(to: run, at: Self.now)
        #expect(next?.status == .queued && next?.attempt == 0 && next?.responseID == nil)
        #expect(next?.availableAt == Self.now.addingTimeInterval(120))
        #expect(verdict.transition.eventKind == "quota_exhausted")
        // An ordinary failure is the run's.
        response.errorMessage = "The model failed to generate a response."
        #expect(!PollDecision.isQuotaFailure(response))
    }
}
