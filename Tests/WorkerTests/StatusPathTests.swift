import Foundation
import KilnDomain
import KilnSimulator
import KilnSubmitter
import Testing

@Suite("Every path of a run, against the simulator", .serialized)
struct StatusPathTests {
    @Test func completedFailedIncompleteAndRefusedRunsRecordWhatTheProviderSaid() async throws {
        try await Harness.with { h in
            let plain = try await h.enqueue("Revenue grew 12 percent in the third quarter.")
            let failed = try await h.enqueue("Doc [sim:fail]")
            let incomplete = try await h.enqueue("A longer document body that stops early [sim:incomplete]")
            let refused = try await h.enqueue("Doc [sim:refuse]")
            let review = try await h.enqueue("Needs review", policy: ["requires_review": true])
            try await h.drain()

            let done = try await h.run(plain.id)
            #expect(done.status == .completed)
            #expect(done.output?.text == h.providerText(plain.id), "the provider's exact output")
            #expect(done.output?.text.hasPrefix("Summary of a 8-word document") == true)
            #expect((done.usage?.totalTokens ?? 0) > 0)
            #expect((done.costMicros ?? 0) > 0)
            #expect(done.providerCompletedAt != nil && done.finalizedAt != nil && done.submittedAt != nil)
            #expect(done.reviewState == nil)
            #expect(done.pollCount >= 1)

            let bad = try await h.run(failed.id)
            #expect(bad.status == .failed)
            #expect(bad.error == RunFailure(code: "server_error", message: "The model failed to generate a response.", source: .provider))

            let partial = try await h.run(incomplete.id)
            #expect(partial.status == .incomplete)
            #expect(partial.output?.incompleteReason == "max_output_tokens")
            #expect(partial.output?.text == h.providerText(incomplete.id))
            #expect(partial.error?.code == "max_output_tokens")

            let declined = try await h.run(refused.id)
            #expect(declined.status == .failed, "the model declined: not a completed summary")
            #expect(declined.error?.code == "refusal")
            #expect(declined.output?.refusal == "I can't help with that.")
            #expect(try await h.run(review.id).reviewState == "pending")
        }
    }

    @Test func outputOverMaxOutputCharsIsCutAndTheCutRecorded() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue(String(repeating: "word ", count: 60), policy: ["max_output_chars": 20])
            try await h.drain()
            let stored = try await h.run(run.id)
            #expect(stored.status == .completed)
            #expect(stored.output?.text.count == 20)
            let full = try #require(h.providerText(run.id))
            #expect(stored.output?.truncatedChars == full.count - 20)
            #expect(full.hasPrefix(stored.output?.text ?? "-"))
        }
    }

    @Test func cancelBeforeSubmissionNeverReachesTheProvider() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("Cancelled while queued")
            _ = try await h.service.cancel(run.id, tenant: TenantID("t1"))
            try await h.drain()
            #expect(try await h.run(run.id).status == .cancelled)
            #expect(h.simulator.responses(ofRun: run.id.rawValue).isEmpty)
        }
    }

    @Test func cancelRequestedAfterAClaimIsHonouredByTheSubmitter() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("Claimed, then cancelled")
            // Simulate the race: a cancel request lands on a run already claimed.
            let claimed = try await h.store.claim(.submission, owner: "test:1", limit: 1, leaseUntil: Date() + 60, now: Date())
            #expect(claimed.count == 1)
            _ = try await h.store.requestCancellation(run.id, tenant: TenantID("t1"), actor: "app", now: Date())
            let stillSubmitting = try await h.run(run.id)
            #expect(stillSubmitting.status == .submitting)
            // The lease holder dies; a later submitter reclaims it and sees the request.
            let released = try await h.store.claim(
                .abandonedSubmission, owner: "test:2", limit: 1, leaseUntil: Date() + 5, now: Date() + 61)
            #expect(released.count == 1)
            _ = try await h.store.save(RunUpdate.make(.release, on: released[0], at: Date(), actor: "test:2")!)
            try await h.drain()
            #expect(try await h.run(run.id).status == .cancelled)
            #expect(h.simulator.responses(ofRun: run.id.rawValue).isEmpty)
        }
    }

    @Test func cancelAfterSubmissionCancelsAtTheProvider() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("A long one [sim:generation=600]")
            _ = try await h.withEnvironment { try await Submitter(environment: $0).runOnce(now: Date()) }
            #expect(try await h.run(run.id).status == .inProgress)
            let requested = try await h.service.cancel(run.id, tenant: TenantID("t1"))
            #expect(requested.status == .inProgress && requested.cancelRequestedAt != nil)
            try await h.drain()
            let stored = try await h.run(run.id)
            #expect(stored.status == .cancelled)
            #expect(h.providerRecord(run.id)?["status"] as? String == "cancelled")
            #expect((h.simulator.statistics()["cancels"] as? Int ?? 0) >= 1)
        }
    }

    @Test func aRunPastItsDeadlineIsCancelledAtTheProviderAndTimesOut() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("Stuck in the queue [sim:stuck]", policy: ["deadline_seconds": 1])
            try await h.drain(timeout: 10)
            let stored = try await h.run(run.id)
            #expect(stored.status == .timedOut)
            #expect(stored.error?.code == "deadline_exceeded")
            #expect(h.providerRecord(run.id)?["status"] as? String == "cancelled", "the provider was told to stop")
        }
    }

    @Test func aResponseTheProviderNoLongerHasFailsAsNotFound() async throws {
        let simulator = Harness.simulator { $0.retention = 0.01 }
        try await Harness.with(simulator: simulator) { h in
            h.configuration.poller.initialDelaySeconds = 1
            h.configuration.poller.minIntervalSeconds = 1
            h.configuration.poller.maxIntervalSeconds = 1
            let run = try await h.enqueue("Expires before anyone reads it [sim:generation=0.05] [sim:queue=0]")
            try await h.drain(timeout: 10)
            let stored = try await h.run(run.id)
            #expect(stored.status == .failed)
            #expect(stored.error?.code == "response_not_found")
        }
    }

    @Test func aWrongAPIKeyFailsRunsClearlyInsteadOfLooping() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("Doc")
            try await h.drain(key: "sk-test-wrong-key-000000000000000", timeout: 5)
            let stored = try await h.run(run.id)
            #expect(stored.status == .failed)
            #expect(stored.error?.code == "invalid_api_key")
            #expect(stored.attempt == 1)
        }
    }

    @Test func rateLimitsRequeueWithoutSpendingAnAttempt() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("Doc")
            h.simulator.inject([.rateLimited])
            let pass = try await h.withEnvironment { try await Submitter(environment: $0).runOnce(now: Date()) }
            #expect(pass.requeued == 1)
            let requeued = try await h.run(run.id)
            #expect(requeued.status == .queued)
            #expect(requeued.attempt == 0, "a 429 does not spend an attempt")
            // Against the requeue's own time, not the clock after the pass: the provider may ask
            // for a wait of milliseconds, which can be over by the time the test looks.
            let requeuedAt = try #require(try await h.store.events(of: run.id).last { $0.kind == "requeued" }?.at)
            #expect(requeued.availableAt > requeuedAt, "it waits as the provider asked")
            #expect(requeued.error?.code == "rate_limit_exceeded")
        }
    }

    @Test func retryableErrorsBackOffAndExhaustedAttemptsFail() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("Doc", policy: ["max_attempts": 2])
            h.simulator.inject([.serverError, .serverError])
            try await h.drain(timeout: 10)
            let stored = try await h.run(run.id)
            #expect(stored.status == .failed)
            #expect(stored.attempt == 2)
            #expect(stored.error?.message.contains("attempts exhausted (2)") == true)
            #expect(h.simulator.responses(ofRun: run.id.rawValue).isEmpty)
        }
    }

    @Test func anAmbiguousCreateIsResubmittedAndRecordedAsAPossibleDuplicate() async throws {
        try await Harness.with { h in
            let run = try await h.enqueue("Doc")
            h.simulator.inject([.drop])
            try await h.drain()
            let stored = try await h.run(run.id)
            #expect(stored.status == .completed)
            #expect(stored.attempt == 2)
            #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 2, "the provider saw two creates")
            let events = try await h.store.events(of: run.id)
            #expect(events.filter { $0.kind == "possible_duplicate" }.count == 1)
            #expect(try await h.store.summary().possibleDuplicates == 1)
            #expect(stored.output?.text == h.providerText(run.id), "the output of the response whose id was stored")
        }
    }

    @Test func theFailPolicyFailsAnAmbiguousRunAndSaysSo() async throws {
        try await Harness.with { h in
            h.configuration.submitter.ambiguousSend = .fail
            let run = try await h.enqueue("Doc")
            h.simulator.inject([.truncated])
            try await h.drain()
            let stored = try await h.run(run.id)
            #expect(stored.status == .failed)
            #expect(stored.error?.code == "possible_duplicate")
            #expect(try await h.store.events(of: run.id).contains { $0.kind == "possible_duplicate" })
        }
    }

    @Test func aRowInsertedByAnotherAppRunsToTheEnd() async throws {
        try await Harness.with { h in
            let id = "run_fromlaravel01"
            try await h.store.insertRaw(id: id)
            try await h.drain()
            let stored = try await h.run(RunID(id))
            #expect(stored.status == .completed)
            #expect(stored.promptVersion == "document_summary/v1")
        }
    }
}
