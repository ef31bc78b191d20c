import Foundation

/// What happened to one run in a submit pass.
enum SubmitOutcome: Sendable {
    case accepted
    /// A long document cut into children (``DocumentTree``).
    case expanded
    /// Joined a gathering batch (the batch lane).
    case batched
    case requeued
    case resubmitting
    case failed
    /// Failed by the `fail` policy after an ambiguous send.
    case duplicateFailed
    case cancelled
    case timedOut
    case released
    /// Another process took the run over (our lease expired); nothing was written.
    case lostLease
}

/// What one submit pass did, for the one-line summary and the daemon's schedule.
public struct SubmitPassResult: Sendable, Hashable {
    public var claimed = 0
    public var accepted = 0
    /// Long documents cut into children.
    public var expanded = 0
    /// Runs that joined a batch (the batch lane).
    public var batched = 0
    public var requeued = 0
    public var possibleDuplicates = 0
    public var failed = 0
    public var cancelled = 0
    public var timedOut = 0
    public var released = 0
    public var lostLeases = 0

    public init() {}

    mutating func record(_ outcome: SubmitOutcome) {
        switch outcome {
        case .accepted: accepted += 1
        case .expanded: expanded += 1
        case .batched: batched += 1
        case .requeued: requeued += 1
        case .resubmitting:
            possibleDuplicates += 1
            requeued += 1
        case .failed: failed += 1
        case .duplicateFailed:
            possibleDuplicates += 1
            failed += 1
        case .cancelled: cancelled += 1
        case .timedOut: timedOut += 1
        case .released: released += 1
        case .lostLease: lostLeases += 1
        }
    }

    public var summary: String {
        "submit: claimed \(claimed), accepted \(accepted)\(expanded > 0 ? ", documents cut \(expanded)" : "")\(batched > 0 ? ", batched \(batched)" : ""), requeued \(requeued), failed \(failed), cancelled \(cancelled), timed out \(timedOut), possible duplicates \(possibleDuplicates)"
    }
}

extension SubmitPassResult {
    /// Adds another pass's counts (for `--once`, which may run several passes).
    public mutating func add(_ other: SubmitPassResult) {
        claimed += other.claimed
        accepted += other.accepted
        expanded += other.expanded
        requeued += other.requeued
        possibleDuplicates += other.possibleDuplicates
        failed += other.failed
        cancelled += other.cancelled
        timedOut += other.timedOut
        released += other.released
        lostLeases += other.lostLeases
    }
}
