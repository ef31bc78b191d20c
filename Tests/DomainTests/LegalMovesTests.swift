import Foundation
import KilnDomain
import Testing

/// One test per row of ``LegalMoves/table``: a step moves a run exactly as its row says,
/// from every status, and nowhere else.
@Suite("The table of legal moves")
struct LegalMovesTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_100)

    /// Values for each step; several where the step can end in several statuses.
    static func samples(_ step: RunTransition.Step) -> [RunTransition] {
        switch step {
        case .claimForSubmission: [.claimForSubmission(owner: "a", leaseUntil: now + 60)]
        case .takeOverSubmission: [.takeOverSubmission(owner: "b", leaseUntil: now + 60)]
        case .markSend: [.markSend(promptVersion: "v1", leaseUntil: now + 60)]
        case .accept: [.accept(responseID: ResponseID("resp_1"), providerStatus: "queued", firstPollAt: now + 5)]
        case .requeue: [.requeue(availableAt: now + 5, lastError: nil)]
        case .fail: [.fail(RunFailure(code: "x", message: "x", source: .kiln))]
        case .cancelBeforeSubmission: [.cancelBeforeSubmission]
        case .timeOut: [.timeOut(providerStatus: nil)]
        case .claimForPoll: [.claimForPoll(owner: "a", leaseUntil: now + 60)]
        case .schedulePoll: [.schedulePoll(providerStatus: "in_progress", nextPollAt: now + 9)]
        case .finish:
            [RunStatus.completed, .failed, .incomplete, .cancelled, .timedOut, .inProgress].map {
                .finish(ProviderOutcome(status: $0, providerStatus: $0.rawValue))
            }
        case .release: [.release]
        case .requestCancellation: [.requestCancellation]
        case .expand: [.expand(nextCheckAt: now + 15)]
        case .treeStep: [.treeStep(level: 0, nextCheckAt: now + 15), .treeStep(level: 1, nextCheckAt: now + 15)]
        case .resumeTree: [.resumeTree]
        case .retryChild: [.retryChild]
        case .operatorRetry: [.operatorRetry]
        case .joinBatch: [.joinBatch(batchID: "kbatch_1", promptVersion: "v1")]
        case .batchSubmitted: [.batchSubmitted(providerStatus: "validating")]
        case .leaveBatch: [.leaveBatch(lastError: RunFailure(code: "batch_expired", message: "x", source: .provider))]
        case .requeueAfterQuota:
            [.requeueAfterQuota(availableAt: now + 300, lastError: RunFailure(code: "insufficient_quota", message: "x", source: .provider))]
        }
    }

    /// Runs in every status, leased and sent (`release` of a sent submission keeps it
    /// `submitting`) and not, and long documents' parents.
    static func runs() -> [Run] {
        RunStatus.allCases.flatMap { status -> [Run] in
            var leased = Run.fixture(status: status, owner: "a")
            leased.sendStartedAt = now
            var parent = Run.fixture(status: status)
            parent.level = 0
            var batched = Run.fixture(status: status, owner: KilnBatch.leaseName("kbatch_1"))
            batched.batchID = "kbatch_1"
            batched.sendStartedAt = now
            return [Run.fixture(status: status), Run.fixture(status: status, owner: "a"), leased, parent, batched]
        }
    }

    /// The life of a run as DESIGN.md draws it, written out here independently of the code.
    static let designed: [RunTransition.Step: Set<String>] = [
        .claimForSubmission: ["queued→submitting"],
        .takeOverSubmission: ["submitting→submitting"],
        .markSend: ["submitting→submitting"],
        .accept: ["submitting→in_progress"],
        .requeue: ["submitting→queued"],
        .fail: ["queued→failed", "submitting→failed", "in_progress→failed"],
        .operatorRetry: ["failed→queued"],
        .cancelBeforeSubmission: ["queued→cancelled", "submitting→cancelled"],
        .timeOut: ["queued→timed_out", "submitting→timed_out", "in_progress→timed_out"],
        .claimForPoll: ["in_progress→in_progress"],
        .schedulePoll: ["in_progress→in_progress"],
        .finish: [
            "in_progress→completed", "in_progress→failed", "in_progress→incomplete", "in_progress→cancelled",
            "in_progress→timed_out",
        ],
        .release: ["submitting→queued", "submitting→submitting", "in_progress→in_progress"],
        .requestCancellation: ["queued→queued", "submitting→submitting", "in_progress→in_progress"],
        // Long documents: the parent is cut, looks at its children, and an operator may resume it.
        .expand: ["submitting→in_progress"],
        .treeStep: ["in_progress→in_progress"],
        .resumeTree: ["failed→in_progress"],
        .retryChild: ["failed→queued", "timed_out→queued", "incomplete→queued", "cancelled→queued"],
        // The Batch lane: a claimed run joins a batch, is carried by it, or is let go of without a result.
        .joinBatch: ["submitting→submitting"],
        .batchSubmitted: ["submitting→in_progress"],
        .leaveBatch: ["submitting→queued", "in_progress→queued"],
        // A response the provider failed for quota did not run: the run waits, its attempt given back.
        .requeueAfterQuota: ["in_progress→queued"],
    ]

    @Test(arguments: RunTransition.Step.allCases)
    func aStepMakesExactlyTheMovesOfItsRow(step: RunTransition.Step) throws {
        let row = try #require(LegalMoves.table[step], "every step has a row")
        #expect(Set(row.map(\.description)) == Self.designed[step], "the table's row is the designed one")
        var made: Set<LegalMoves.Move> = []
        for transition in Self.samples(step) {
            #expect(transition.step == step)
            for run in Self.runs() {
                guard let next = transition.apply(to: run, at: Self.now) else { continue }
                made.insert(LegalMoves.Move(run.status, next.status))
            }
        }
        #expect(made == row, "every move of the row is made, and no other: missing \(row.subtracting(made))")
    }

    @Test func aCancelRequestIsRecordedOnceAndMakesAnIdleInFlightRunDue() throws {
        var flying = Run.fixture(status: .inProgress)
        flying.nextPollAt = Self.now + 300
        let requested = try #require(RunTransition.requestCancellation.apply(to: flying, at: Self.now))
        #expect(requested.cancelRequestedAt == Self.now)
        #expect(requested.nextPollAt == Self.now)
        #expect(RunTransition.requestCancellation.apply(to: requested, at: Self.now + 1) == nil, "asked once")
        var leased = flying
        leased.leaseOwner = "p"
        #expect(try #require(RunTransition.requestCancellation.apply(to: leased, at: Self.now)).nextPollAt == Self.now + 300)
        let update = try #require(RunUpdate.make(.requestCancellation, on: flying, at: Self.now, actor: "app"))
        #expect(update.event?.kind == "cancel_requested")
    }
}
