import Foundation
import KilnDomain
import Testing

extension Run {
    static func fixture(status: RunStatus = .queued, owner: String? = nil, at now: Date = Date(timeIntervalSince1970: 1_800_000_000)) -> Run
    {
        var run = Run(
            id: RunID.make(at: now), tenantID: TenantID("t1"), feature: "document_summary",
            input: ["text": "hello"], createdAt: now)
        run.status = status
        run.leaseOwner = owner
        return run
    }
}

@Suite("Transitions are pure functions of a run and a time")
struct RunTransitionTests {
    let now = Date(timeIntervalSince1970: 1_800_000_100)

    @Test func claimLeasesAQueuedRun() throws {
        let until = now.addingTimeInterval(60)
        let run = try #require(RunTransition.claimForSubmission(owner: "h:1", leaseUntil: until).apply(to: .fixture(), at: now))
        #expect(run.status == .submitting)
        #expect(run.leaseOwner == "h:1")
        #expect(run.leaseExpiresAt == until)
        #expect(RunTransition.claimForSubmission(owner: "h:1", leaseUntil: until).apply(to: run, at: now) == nil)
    }

    @Test func sendMarkCountsTheAttemptBeforeTheRequestLeaves() throws {
        let claimed = Run.fixture(status: .submitting, owner: "h:1")
        let marked = try #require(RunTransition.markSend(promptVersion: "v1", leaseUntil: now + 30).apply(to: claimed, at: now))
        #expect(marked.attempt == 1)
        #expect(marked.sendStartedAt == now)
        #expect(marked.status == .submitting)
        #expect(marked.leaseExpiresAt == now + 30, "the lease is renewed, not kept at the claim's expiry")
    }

    @Test func acceptStoresTheResponseAndReleasesTheLease() throws {
        let accepted = try #require(
            RunTransition.accept(responseID: ResponseID("resp_1"), providerStatus: "queued", firstPollAt: now + 5)
                .apply(to: .fixture(status: .submitting, owner: "h:1"), at: now))
        #expect(accepted.status == .inProgress)
        #expect(accepted.responseID == ResponseID("resp_1"))
        #expect(accepted.nextPollAt == now + 5)
        #expect(accepted.leaseOwner == nil)
        #expect(accepted.submittedAt == now)
    }

    @Test func finishingRecordsTheOutcomeAndAsksForReview() throws {
        let outcome = ProviderOutcome(
            status: .completed, providerStatus: "completed", output: RunOutput(text: "sum"),
            usage: RunUsage(inputTokens: 10, outputTokens: 5, totalTokens: 15), costMicros: 7, requiresReview: true)
        let done = try #require(RunTransition.finish(outcome).apply(to: .fixture(status: .inProgress, owner: "p"), at: now))
        #expect(done.status == .completed)
        #expect(done.reviewState == "pending")
        #expect(done.finalizedAt == now)
        #expect(done.leaseOwner == nil && done.nextPollAt == nil)
        #expect(done.pollCount == 1)
        #expect(RunTransition.finish(outcome).apply(to: done, at: now) == nil, "a terminal run is final")
    }

    @Test func finishRefusesANonTerminalOutcome() {
        let outcome = ProviderOutcome(status: .inProgress, providerStatus: "in_progress")
        #expect(RunTransition.finish(outcome).apply(to: .fixture(status: .inProgress), at: now) == nil)
    }

    @Test func noStepChangesATerminalRun() {
        let steps: [RunTransition] = [
            .claimForSubmission(owner: "a", leaseUntil: now), .markSend(promptVersion: "v", leaseUntil: now),
            .accept(responseID: ResponseID("r"), providerStatus: "queued", firstPollAt: now),
            .requeue(availableAt: now, lastError: nil), .fail(RunFailure(code: "x", message: "x", source: .kiln)),
            .cancelBeforeSubmission, .timeOut(providerStatus: nil), .claimForPoll(owner: "a", leaseUntil: now),
            .schedulePoll(providerStatus: "queued", nextPollAt: now), .release,
        ]
        for status in RunStatus.allCases where status.isTerminal {
            for step in steps {
                #expect(step.apply(to: .fixture(status: status, owner: "a"), at: now) == nil, "\(step) on \(status)")
            }
        }
    }

    @Test func releaseHandsAnUnsentSubmissionBack() throws {
        let released = try #require(RunTransition.release.apply(to: .fixture(status: .submitting, owner: "a"), at: now))
        #expect(released.status == .queued)
        #expect(released.leaseOwner == nil)
    }

    @Test func updatesAuditStatusChangesButNotPollBookkeeping() throws {
        let inProgress = Run.fixture(status: .inProgress, owner: "p")
        let polled = try #require(
            RunUpdate.make(.schedulePoll(providerStatus: "in_progress", nextPollAt: now + 9), on: inProgress, at: now, actor: "p"))
        #expect(polled.event == nil)
        #expect(polled.expectedStatus == .inProgress && polled.expectedLeaseOwner == "p")
        let failed = try #require(
            RunUpdate.make(.fail(RunFailure(code: "x", message: "m", source: .provider)), on: inProgress, at: now, actor: "p"))
        #expect(failed.event?.fromStatus == .inProgress)
        #expect(failed.event?.toStatus == .failed)
    }
}
