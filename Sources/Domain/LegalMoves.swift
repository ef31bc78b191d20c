/// The one table of legal moves: for each step of a run's life, the status changes it may
/// make. ``RunTransition/apply(to:at:)`` refuses every other change, ``RunStatus/canMove(to:)``
/// is read from it, and both stores write only what a transition produced.
public enum LegalMoves {
    public struct Move: Sendable, Hashable, CustomStringConvertible {
        public let from: RunStatus
        public let to: RunStatus

        public init(_ from: RunStatus, _ to: RunStatus) {
            self.from = from
            self.to = to
        }

        public var description: String { "\(from.rawValue)→\(to.rawValue)" }
    }

    public static let table: [RunTransition.Step: Set<Move>] = [
        .claimForSubmission: [Move(.queued, .submitting)],
        .takeOverSubmission: [Move(.submitting, .submitting)],
        .markSend: [Move(.submitting, .submitting)],
        .accept: [Move(.submitting, .inProgress)],
        .requeue: [Move(.submitting, .queued)],
        .fail: [Move(.queued, .failed), Move(.submitting, .failed), Move(.inProgress, .failed)],
        .cancelBeforeSubmission: [Move(.queued, .cancelled), Move(.submitting, .cancelled)],
        .timeOut: [Move(.queued, .timedOut), Move(.submitting, .timedOut), Move(.inProgress, .timedOut)],
        .claimForPoll: [Move(.inProgress, .inProgress)],
        .schedulePoll: [Move(.inProgress, .inProgress)],
        .finish: [
            Move(.inProgress, .completed), Move(.inProgress, .failed), Move(.inProgress, .incomplete),
            Move(.inProgress, .cancelled), Move(.inProgress, .timedOut),
        ],
        .release: [Move(.submitting, .queued), Move(.submitting, .submitting), Move(.inProgress, .inProgress)],
        .requestCancellation: [Move(.queued, .queued), Move(.submitting, .submitting), Move(.inProgress, .inProgress)],
        .expand: [Move(.submitting, .inProgress)],
        .treeStep: [Move(.inProgress, .inProgress)],
        .resumeTree: [Move(.failed, .inProgress)],
        .operatorRetry: [Move(.failed, .queued)],
        .joinBatch: [Move(.submitting, .submitting)],
        .batchSubmitted: [Move(.submitting, .inProgress)],
        .leaveBatch: [Move(.submitting, .queued), Move(.inProgress, .queued)],
        .requeueAfterQuota: [Move(.inProgress, .queued)],
        .retryChild: [Move(.failed, .queued), Move(.timedOut, .queued), Move(.incomplete, .queued), Move(.cancelled, .queued)],
    ]

    /// Every status change some step may make.
    public static let all: Set<Move> = table.values.reduce(into: []) { $0.formUnion($1) }

    public static func allows(_ step: RunTransition.Step, from: RunStatus, to: RunStatus) -> Bool {
        table[step]?.contains(Move(from, to)) ?? false
    }
}

extension RunTransition {
    /// A step of a run's life without its values; the raw value is the event kind.
    public enum Step: String, Sendable, Hashable, CaseIterable {
        case claimForSubmission = "claimed"
        case takeOverSubmission = "taken_over"
        case markSend = "send_started"
        case accept = "accepted"
        case requeue = "requeued"
        case fail = "failed"
        case cancelBeforeSubmission = "cancelled"
        case timeOut = "timed_out"
        case claimForPoll = "poll_claimed"
        case schedulePoll = "polled"
        case finish = "finalized"
        case release = "released"
        case requestCancellation = "cancel_requested"
        case expand = "expanded"
        case treeStep = "level_started"
        case resumeTree = "resumed"
        /// A tree child that ended without a result is queued again (the SQL stores write it
        /// set-based, the same columns as ``RunTransition/retryChild``).
        case retryChild = "retried"
        case operatorRetry = "operator_retried"
        case joinBatch = "batched"
        case batchSubmitted = "batch_submitted"
        case leaveBatch = "batch_left"
        case requeueAfterQuota = "quota_exhausted"
    }
}
