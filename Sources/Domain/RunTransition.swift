import Foundation

/// A step in the life of a run, as a pure function of the run and the time.
///
/// Workers decide with ``apply(to:at:)`` and the store only persists the result with a
/// guarded update (``RunUpdate``): the logic is testable without a database or a clock.
/// Which status changes each step may make is ``LegalMoves/table``, the only such table.
public enum RunTransition: Sendable, Hashable {
    /// queued → submitting, under a lease.
    case claimForSubmission(owner: String, leaseUntil: Date)
    /// submitting, whose owner's lease expired: the lease changes hands; the rest is the
    /// submitter's decision (resubmit or fail an ambiguous send, hand back an unsent one).
    case takeOverSubmission(owner: String, leaseUntil: Date)
    /// The send mark: `attempt + 1` and `send_started_at`, written before a create leaves,
    /// with the lease renewed to `leaseUntil`. The row is written whole, so a mark that kept
    /// the claim's expiry would set back every renewal since: written after the claim's
    /// lease ran out (a database restart, a long wait for the request budget), it left a run
    /// another process could take over while this one's create was on its way.
    case markSend(promptVersion: String, leaseUntil: Date)
    /// submitting → in_progress: the provider accepted; its id is stored.
    case accept(responseID: ResponseID, providerStatus: String, firstPollAt: Date)
    /// submitting → queued, to be tried again at `availableAt`; the lease is released.
    /// `refundAttempt` gives back the attempt of a send the provider refused with 429.
    case requeue(availableAt: Date, lastError: RunFailure?, refundAttempt: Bool = false)
    /// submitting or in_progress → failed.
    case fail(RunFailure)
    /// queued or submitting → cancelled, before the provider has the run.
    case cancelBeforeSubmission
    /// Any non-terminal status → timed_out (after the provider cancel, when it had the run).
    case timeOut(providerStatus: String?)
    /// in_progress, leased for a poll; `next_poll_at` follows the lease expiry.
    case claimForPoll(owner: String, leaseUntil: Date)
    /// in_progress, still running at the provider: one poll counted, the next one scheduled.
    case schedulePoll(providerStatus: String, nextPollAt: Date)
    /// in_progress → a terminal status the provider reported.
    case finish(ProviderOutcome)
    /// The lease is given up without any other change (shutdown).
    case release
    /// The application asks for cancellation: `cancel_requested_at` is set once, and an
    /// in-flight run nobody holds becomes due for its poller now. Kiln's half of the row is
    /// left alone (the poller or submitter carries the request out).
    case requestCancellation
    /// submitting → in_progress for a long document's parent: its children were created
    /// (in the same transaction); it works level 0 and is looked at again by `nextCheckAt`.
    case expand(nextCheckAt: Date)
    /// in_progress, a tree parent after a look at its children: the level it works now and
    /// its next look; the lease is released.
    case treeStep(level: Int, nextCheckAt: Date)
    /// failed → in_progress: an operator retries a tree parent's failed children.
    case resumeTree
    /// A tree child that ended without a result → queued again, held for its parent to
    /// release: attempts start over, the cost it already ran up moves to `orphan_cost_micros`.
    case retryChild
    /// failed → queued: an operator sends a run (not a long document's) again:
    /// attempts start over, the cost it already ran up moves to `orphan_cost_micros`.
    case operatorRetry
    /// submitting, claimed for submission → submitting, held by the gathering batch
    /// `batchID` (``KilnBatch``): the attempt counted and the send mark written, as for a create.
    case joinBatch(batchID: String, promptVersion: String)
    /// submitting → in_progress: the provider has the batch that carries the run.
    case batchSubmitted(providerStatus: String)
    /// submitting or in_progress → queued: the batch let go of the run without a result (it
    /// expired or was cancelled before the request ran, or the batch could not be sent):
    /// not billed, so the attempt is given back; `batch_id` stays, and the run is sent at
    /// standard next (``SubmitDecision/plan(for:policy:features:now:)``).
    case leaveBatch(lastError: RunFailure)
    /// in_progress → queued: the provider ended the response `failed` because the account is
    /// out of quota (it did not run, so the attempt is given back); sent again from `availableAt`.
    case requeueAfterQuota(availableAt: Date, lastError: RunFailure)

    /// The run after this step at `now`, or nil when the step is not allowed from here.
    public func apply(to run: Run, at now: Date) -> Run? {
        var next = run
        next.updatedAt = now
        switch self {
        case .claimForSubmission(let owner, let until):
            next.status = .submitting
            next.leaseOwner = owner
            next.leaseExpiresAt = until
            next.sendStartedAt = nil
            next.waitReason = nil
        case .takeOverSubmission(let owner, let until):
            next.leaseOwner = owner
            next.leaseExpiresAt = until
        case .markSend(let promptVersion, let leaseUntil):
            guard run.leaseOwner != nil else { return nil }
            next.attempt = run.attempt + 1
            next.sendStartedAt = now
            next.promptVersion = promptVersion
            next.leaseExpiresAt = leaseUntil
        case .accept(let responseID, let providerStatus, let firstPollAt):
            next.status = .inProgress
            next.responseID = responseID
            next.providerStatus = providerStatus
            next.submittedAt = now
            next.nextPollAt = firstPollAt
            next.leaseOwner = nil
            next.leaseExpiresAt = nil
        case .requeue(let availableAt, let lastError, let refundAttempt):
            requeue(&next, availableAt: availableAt, lastError: lastError, refundAttempt: refundAttempt)
        case .fail(let failure):
            next.status = .failed
            next.error = failure
            finalize(&next, at: now)
        case .cancelBeforeSubmission:
            next.status = .cancelled
            next.error = RunFailure(code: "cancelled", message: "cancelled before submission", source: .kiln)
            finalize(&next, at: now)
        case .timeOut(let providerStatus):
            next.status = .timedOut
            if let providerStatus { next.providerStatus = providerStatus }
            next.error = RunFailure(code: "deadline_exceeded", message: "the run's deadline passed", source: .policy)
            finalize(&next, at: now)
        case .claimForPoll(let owner, let until):
            next.leaseOwner = owner
            next.leaseExpiresAt = until
            next.nextPollAt = until  // a poll that dies with its process is due again when the lease runs out
        case .schedulePoll(let providerStatus, let nextPollAt):
            next.providerStatus = providerStatus
            if providerStatus == "in_progress", run.providerStartedAt == nil { next.providerStartedAt = now }
            next.pollCount = run.pollCount + 1
            next.nextPollAt = nextPollAt
            next.leaseOwner = nil
            next.leaseExpiresAt = nil
        case .finish(let outcome):
            next.status = outcome.status
            next.providerStatus = outcome.providerStatus
            next.output = outcome.output
            next.error = outcome.error
            next.usage = outcome.usage
            next.costMicros = outcome.costMicros
            next.providerCompletedAt = outcome.providerCompletedAt
            next.pollCount = run.pollCount + outcome.pollsCounted
            if outcome.status == .completed, outcome.requiresReview { next.reviewState = "pending" }
            finalize(&next, at: now)
        case .release:
            guard run.leaseOwner != nil else { return nil }
            next.leaseOwner = nil
            next.leaseExpiresAt = nil
            if run.status == .submitting, run.sendStartedAt == nil {
                next.status = .queued  // nothing left: hand it straight back
            }
        case .expand(let nextCheckAt):
            guard run.parentRunID == nil else { return nil }
            next.status = .inProgress
            next.level = 0
            next.submittedAt = now
            next.nextPollAt = nextCheckAt
            next.leaseOwner = nil
            next.leaseExpiresAt = nil
        case .treeStep(let level, let nextCheckAt):
            guard run.isTreeParent, level >= (run.level ?? 0) else { return nil }
            next.level = level
            next.pollCount = run.pollCount + 1
            next.nextPollAt = nextCheckAt
            next.leaseOwner = nil
            next.leaseExpiresAt = nil
        case .resumeTree:
            guard run.isTreeParent else { return nil }
            next.status = .inProgress
            next.error = nil
            next.output = nil
            next.finalizedAt = nil
            next.nextPollAt = now
            next.leaseOwner = nil
            next.leaseExpiresAt = nil
        case .retryChild:
            next = Run(
                id: run.id, tenantID: run.tenantID, userID: run.userID, feature: run.feature, subject: run.subject,
                idempotencyKey: run.idempotencyKey, input: run.input, policy: run.policy, createdAt: run.createdAt)
            next.parentRunID = run.parentRunID
            next.level = run.level
            next.chunkIndex = run.chunkIndex
            next.charStart = run.charStart
            next.charEnd = run.charEnd
            next.orphanCostMicros = run.orphanCostMicros + (run.costMicros ?? 0)
            next.availableAt = DocumentTree.heldUntil
            next.updatedAt = now
        case .operatorRetry:
            guard run.parentRunID == nil, run.level == nil else { return nil }
            next = Run(
                id: run.id, tenantID: run.tenantID, userID: run.userID, feature: run.feature, subject: run.subject,
                idempotencyKey: run.idempotencyKey, input: run.input, policy: run.policy, createdAt: run.createdAt)
            next.cancelRequestedAt = nil
            next.orphanCostMicros = run.orphanCostMicros + (run.costMicros ?? 0)
            next.availableAt = now
            next.updatedAt = now
        case .joinBatch(let batchID, let promptVersion):
            guard run.leaseOwner != nil, run.sendStartedAt == nil else { return nil }
            next.attempt = run.attempt + 1
            next.sendStartedAt = now
            next.promptVersion = promptVersion
            next.batchID = batchID
            next.leaseOwner = KilnBatch.leaseName(batchID)
            next.leaseExpiresAt = KilnBatch.heldUntil
        case .batchSubmitted(let providerStatus):
            guard let batchID = run.batchID, run.leaseOwner == KilnBatch.leaseName(batchID) else { return nil }
            next.status = .inProgress
            next.providerStatus = providerStatus
            next.submittedAt = now
            next.nextPollAt = nil
        case .leaveBatch(let lastError):
            guard let batchID = run.batchID, run.leaseOwner == KilnBatch.leaseName(batchID) else { return nil }
            notRun(&next, availableAt: now, lastError: lastError)
        case .requeueAfterQuota(let availableAt, let lastError):
            notRun(&next, availableAt: availableAt, lastError: lastError)
        case .requestCancellation:
            guard run.cancelRequestedAt == nil else { return nil }
            next.cancelRequestedAt = now
            if run.status == .inProgress, run.leaseOwner == nil, (run.nextPollAt ?? now) > now { next.nextPollAt = now }
        }
        guard LegalMoves.allows(step, from: run.status, to: next.status) else { return nil }
        return next
    }

    /// Back to the queue after a send the provider did not run (a batch that did not get to it,
    /// a response failed for quota): not billed, so the attempt is given back, and nothing of
    /// that send stays on the run.
    private func notRun(_ run: inout Run, availableAt: Date, lastError: RunFailure) {
        requeue(&run, availableAt: availableAt, lastError: lastError, refundAttempt: true)
        run.responseID = nil
        run.providerStatus = nil
        run.submittedAt = nil
        run.providerStartedAt = nil
        run.nextPollAt = nil
    }

    /// Back to the queue from `availableAt`, the lease released; with `refundAttempt`, the
    /// attempt of a send that was made is given back.
    private func requeue(_ run: inout Run, availableAt: Date, lastError: RunFailure?, refundAttempt: Bool) {
        if refundAttempt, run.sendStartedAt != nil { run.attempt = max(0, run.attempt - 1) }
        run.status = .queued
        run.availableAt = availableAt
        run.error = lastError
        run.sendStartedAt = nil
        run.leaseOwner = nil
        run.leaseExpiresAt = nil
    }

    private func finalize(_ run: inout Run, at now: Date) {
        run.finalizedAt = now
        run.nextPollAt = nil
        run.leaseOwner = nil
        run.leaseExpiresAt = nil
    }

    /// Which step this is, without its values: the key of ``LegalMoves/table`` and the
    /// event kind written with it.
    public var step: Step {
        switch self {
        case .claimForSubmission: .claimForSubmission
        case .takeOverSubmission: .takeOverSubmission
        case .markSend: .markSend
        case .accept: .accept
        case .requeue: .requeue
        case .fail: .fail
        case .cancelBeforeSubmission: .cancelBeforeSubmission
        case .timeOut: .timeOut
        case .claimForPoll: .claimForPoll
        case .schedulePoll: .schedulePoll
        case .finish: .finish
        case .release: .release
        case .requestCancellation: .requestCancellation
        case .expand: .expand
        case .treeStep: .treeStep
        case .resumeTree: .resumeTree
        case .retryChild: .retryChild
        case .operatorRetry: .operatorRetry
        case .joinBatch: .joinBatch
        case .batchSubmitted: .batchSubmitted
        case .leaveBatch: .leaveBatch
        case .requeueAfterQuota: .requeueAfterQuota
        }
    }

    /// The event kind written with this step.
    public var eventKind: String { step.rawValue }
}
