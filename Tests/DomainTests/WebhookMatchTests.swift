import Foundation
import KilnDomain
import Testing

/// What a response no in-flight run held means, once retrieved.
@Suite("Webhook matches")
struct WebhookMatchTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let prices = KilnConfiguration().prices

    func run(_ status: RunStatus, attempt: Int = 1, response: String? = nil, sendMark: Bool = true) -> Run {
        var run = Run(id: RunID("run_1"), tenantID: TenantID("t"), feature: "document_summary", input: ["text": "x"], createdAt: now - 60)
        run.status = status
        run.attempt = attempt
        run.responseID = response.map(ResponseID.init)
        run.sendStartedAt = sendMark ? now - 5 : nil
        if status == .submitting { (run.leaseOwner, run.leaseExpiresAt) = ("dead:1", now + 50) }
        return run
    }

    func response(_ id: String, attempt: Int, status: ProviderResponse.Status = .completed) -> ProviderResponse {
        ProviderResponse(
            id: ResponseID(id), status: status, outputText: "Done.",
            usage: RunUsage(inputTokens: 1000, outputTokens: 500, totalTokens: 1500),
            metadata: ["kiln_run_id": "run_1", "kiln_attempt": String(attempt)])
    }

    func decide(_ response: ProviderResponse, _ run: Run?) -> WebhookMatch {
        WebhookMatch.decide(response, run: run, policy: RunPolicy(), prices: prices, actor: "w:1", now: now)
    }

    @Test func aSubmittingRunWithTheSendMarkOfThisAttemptAdoptsTheResponse() throws {
        guard case .adopt(let update) = decide(response("resp_a", attempt: 2), run(.submitting, attempt: 2)) else {
            Issue.record("not adopted")
            return
        }
        #expect(update.run.status == .inProgress)
        #expect(update.run.responseID == ResponseID("resp_a"))
        #expect(update.run.leaseOwner == nil)
        #expect(update.run.nextPollAt == now, "due at once: the poller finalizes it")
        #expect(update.expectedLeaseOwner == "dead:1", "guarded like any write: it fails if the run moved")
        #expect(update.event?.details["via"] == "webhook")
    }

    @Test func anEarlierAttemptsResponseIsAnOrphanWithItsCost() {
        guard case .orphan(let orphan) = decide(response("resp_old", attempt: 1), run(.inProgress, attempt: 2, response: "resp_new"))
        else {
            Issue.record("not an orphan")
            return
        }
        #expect(orphan.responseID == ResponseID("resp_old"))
        #expect(orphan.costMicros == 250 + 1000, "gpt-5-mini: 1,000 input tokens at $0.25/M, 500 output at $2/M")
        #expect(orphan.event.kind == "orphan_response")
        #expect(orphan.event.details["attempt"] == .number(1))
    }

    @Test func aFinalRunsSecondResponseIsAnOrphanAndItsOwnIsNothing() {
        let done = run(.completed, attempt: 1, response: "resp_a")
        if case .orphan = decide(response("resp_b", attempt: 1), done) {} else { Issue.record("a second response of a final run") }
        #expect(decide(response("resp_a", attempt: 1), done) == .none, "its own response: already finalized")
    }

    @Test func theRunsOwnResponseMakesItDueAndStrangersAreNothing() {
        let flying = run(.inProgress, attempt: 1, response: "resp_a")
        #expect(decide(response("resp_a", attempt: 1), flying) == .makeDue(flying))
        #expect(decide(response("resp_x", attempt: 1), nil) == .none, "no such run: not Kiln's")
    }

    @Test func withoutTheSendMarkOrWithAnotherAttemptThereIsNoAdoption() {
        if case .adopt = decide(response("resp_a", attempt: 1), run(.submitting, attempt: 1, sendMark: false)) {
            Issue.record("adopted without a send mark")
        }
        if case .adopt = decide(response("resp_a", attempt: 1), run(.submitting, attempt: 2)) {
            Issue.record("adopted another attempt's response")
        }
    }
}
