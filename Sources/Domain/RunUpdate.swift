import Foundation

/// A guarded write: persist `run` only if the row still has `expectedStatus`,
/// `expectedLeaseOwner` and `expectedAttempt`, and append `event` in the same transaction.
///
/// Two processes racing on one run both build an update from what they read; only the
/// first one's guard matches, so a run is finalized once. The attempt is part of the guard
/// because status and owner can come back: a worker whose write is retried through a long
/// outage may find the run released, re-claimed by itself and sent again (attempt + 1) —
/// its old write must then fail, not overwrite the newer send.
public struct RunUpdate: Sendable, Hashable {
    public var run: Run
    public var expectedStatus: RunStatus
    public var expectedLeaseOwner: String?
    /// Nil: any attempt (a write that does not follow a read of the run).
    public var expectedAttempt: Int?
    public var event: RunEvent?

    public init(run: Run, expectedStatus: RunStatus, expectedLeaseOwner: String?, expectedAttempt: Int? = nil, event: RunEvent?) {
        self.run = run
        self.expectedStatus = expectedStatus
        self.expectedLeaseOwner = expectedLeaseOwner
        self.expectedAttempt = expectedAttempt
        self.event = event
    }

    /// Applies `transition` to `current` at `now`; nil when the transition is not allowed.
    ///
    /// An event row is written for every status change, and for the steps worth auditing
    /// that keep the status (the send mark); routine poll bookkeeping writes none.
    /// `eventKind` names the event when it is not the step's own (`possible_duplicate`).
    public static func make(
        _ transition: RunTransition, on current: Run, at now: Date, actor: String, details: [String: JSONValue] = [:],
        eventKind: String? = nil
    ) -> RunUpdate? {
        guard let next = transition.apply(to: current, at: now) else { return nil }
        let audited: Bool
        switch transition {
        case .markSend, .requestCancellation, .joinBatch: audited = true
        case .treeStep(let level, _): audited = level != current.level
        default: audited = next.status != current.status
        }
        var eventDetails = details
        if next.attempt > 0 { eventDetails["attempt"] = .number(Double(next.attempt)) }
        let event =
            audited
            ? RunEvent(
                runID: current.id, fromStatus: current.status, toStatus: next.status, at: now, actor: actor,
                kind: eventKind ?? transition.eventKind, details: .object(eventDetails))
            : nil
        return RunUpdate(
            run: next, expectedStatus: current.status, expectedLeaseOwner: current.leaseOwner, expectedAttempt: current.attempt,
            event: event)
    }
}

extension RunUpdate {
    /// Whether the step keeps the lease with the owner that holds it (the send mark). Its
    /// expiry is then written only where it is later than the stored one: a write retried
    /// after the database came back must not undo a renewal that landed first.
    public var keepsLease: Bool { run.leaseOwner != nil && run.leaseOwner == expectedLeaseOwner }

    /// Whether `current`, read back from the store, already is this update's result (an
    /// earlier attempt committed although its answer was lost). Compared: what each step
    /// changes in Kiln's half of the row (status, lease owner, attempt, poll count, response
    /// id, provider status, and the send, submission, availability and finalization times
    /// to the millisecond). Not compared: `updated_at` and `next_poll_at`, which an
    /// application's cancel request also writes, and `lease_expires_at`, which lease renewal
    /// moves; every step changes at least one compared field.
    public func isApplied(in current: Run) -> Bool {
        func same(_ a: Date?, _ b: Date?) -> Bool { a.map(Timestamp.format) == b.map(Timestamp.format) }
        return current.status == run.status && current.leaseOwner == run.leaseOwner && current.attempt == run.attempt
            && current.pollCount == run.pollCount && current.responseID == run.responseID
            && current.providerStatus == run.providerStatus && same(current.sendStartedAt, run.sendStartedAt)
            && same(current.submittedAt, run.submittedAt) && same(current.availableAt, run.availableAt)
            && same(current.finalizedAt, run.finalizedAt)
    }
}
