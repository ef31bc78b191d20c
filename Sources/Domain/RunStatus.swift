/// Where a run is in its life. Terminal statuses are final.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case queued
    case submitting
    case inProgress = "in_progress"
    case completed
    case failed
    case incomplete
    case cancelled
    case timedOut = "timed_out"

    public var isTerminal: Bool {
        switch self {
        case .queued, .submitting, .inProgress: false
        case .completed, .failed, .incomplete, .cancelled, .timedOut: true
        }
    }

    /// The transition table of DESIGN.md "The life of a run". Staying in the same
    /// non-terminal status (a lease taken, a poll scheduled) is always allowed.
    public func canMove(to next: RunStatus) -> Bool {
        if self == next { return !isTerminal }
        switch (self, next) {
        case (.queued, .submitting), (.queued, .cancelled), (.queued, .timedOut):
            return true
        case (.submitting, .inProgress), (.submitting, .queued), (.submitting, .failed),
            (.submitting, .cancelled), (.submitting, .timedOut):
            return true
        case (.inProgress, .completed), (.inProgress, .failed), (.inProgress, .incomplete),
            (.inProgress, .cancelled), (.inProgress, .timedOut):
            return true
        default:
            return false
        }
    }

    /// Parses a status name, naming the value when it is not one.
    public init(parsing text: String) throws(KilnError) {
        guard let status = RunStatus(rawValue: text) else {
            let names = RunStatus.allCases.map(\.rawValue).joined(separator: ", ")
            throw KilnError(.invalidArgument, "unknown status \"\(text.prefix(40))\"; expected one of: \(names)")
        }
        self = status
    }
}
