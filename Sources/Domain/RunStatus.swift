/// Where a run is in its life. Terminal statuses are final, but for one operator action: retrying
/// a long document's failed children (``LegalMoves`` `resumeTree`, `retryChild`).
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

    /// Whether some step of a run's life moves it from this status to `next` (read from
    /// ``LegalMoves/table``).
    public func canMove(to next: RunStatus) -> Bool {
        LegalMoves.all.contains(LegalMoves.Move(self, next))
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
