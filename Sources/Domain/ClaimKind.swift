import Foundation

/// Which runs a claim takes, and what it does to them.
public enum ClaimKind: Sendable, Hashable {
    /// `queued` runs with `available_at` ≤ now, oldest first → `submitting`, leased.
    case submission
    /// `submitting` runs whose lease expired (a process died mid-submission), leased as they are.
    case abandonedSubmission
    /// `in_progress` runs with `next_poll_at` ≤ now and no live lease, leased for a poll;
    /// not tree parents.
    case poll
    /// Tree parents (``Run/isTreeParent``) due for a look at their children, leased like a
    /// poll. Read without their `input` (a document of up to 60 MB is read once, when cut).
    case treeStep
}

extension ClaimKind {
    /// What claiming `current` does to it: the guarded update every store writes for each
    /// candidate it selected, so the decision lives in one place and not in SQL.
    ///
    /// - submission: queued → submitting under the lease (with a `claimed` event).
    /// - abandonedSubmission: the lease changes hands; the submitter decides the rest.
    /// - poll: leased for a poll; `next_poll_at` moves to the lease expiry, so a poll that
    ///   dies with its process is simply due again when the lease runs out.
    public func update(claiming current: Run, owner: String, leaseUntil: Date, now: Date) -> RunUpdate? {
        switch self {
        case .submission:
            return RunUpdate.make(.claimForSubmission(owner: owner, leaseUntil: leaseUntil), on: current, at: now, actor: owner)
        case .poll, .treeStep:
            return RunUpdate.make(.claimForPoll(owner: owner, leaseUntil: leaseUntil), on: current, at: now, actor: owner)
        case .abandonedSubmission:
            return RunUpdate.make(.takeOverSubmission(owner: owner, leaseUntil: leaseUntil), on: current, at: now, actor: owner)
        }
    }
}
