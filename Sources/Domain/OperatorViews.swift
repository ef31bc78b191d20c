import Foundation

/// What is not finished, for the `/metrics` gauges.
public struct LiveCounts: Sendable, Hashable {
    public struct Row: Sendable, Hashable {
        public var status: RunStatus
        public var feature: String
        public var count: Int

        public init(status: RunStatus, feature: String, count: Int) {
            self.status = status
            self.feature = feature
            self.count = count
        }
    }

    public var rows: [Row]
    /// The oldest queued run's creation, and the longest-running in-flight run's submission.
    public var oldestQueuedAt: Date?
    public var oldestInFlightSince: Date?

    public init(rows: [Row], oldestQueuedAt: Date?, oldestInFlightSince: Date?) {
        self.rows = rows
        self.oldestQueuedAt = oldestQueuedAt
        self.oldestInFlightSince = oldestInFlightSince
    }
}

/// What needs an operator's eye.
public struct Attention: Sendable, Hashable {
    /// Runs with a `possible_duplicate` event (a create may have reached the provider twice).
    public var possibleDuplicates: [RunID] = []
    /// Runs with an `orphan_response` event (a response they did not use ran and cost).
    public var orphans: [RunID] = []
    /// Submissions whose lease ran out, and in-flight runs whose poll is overdue by minutes.
    public var stuck: [Run] = []
    /// Unfinished runs (not long documents' parents) whose deadline comes within 15 minutes, by
    /// their stored policy.
    public var nearDeadline: [Run] = []
    /// Failures of the last 7 days by `error.code`, most first.
    public var failuresByCode: [(code: String, count: Int)] = []
    /// Queued runs a limit holds back.
    public var waiting: [Run] = []

    public init() {}

    public static func == (a: Attention, b: Attention) -> Bool {
        a.possibleDuplicates == b.possibleDuplicates && a.orphans == b.orphans && a.stuck == b.stuck && a.nearDeadline == b.nearDeadline
            && a.failuresByCode.map(\.code) == b.failuresByCode.map(\.code)
            && a.failuresByCode.map(\.count) == b.failuresByCode.map(\.count)
            && a.waiting == b.waiting
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(possibleDuplicates) }
}

/// Runs that ended in one hour (UTC), for charts.
public struct ActivityHour: Sendable, Hashable {
    /// The hour's start.
    public var hour: Date
    public var completed: Int
    public var failed: Int
    /// incomplete, cancelled, timed_out.
    public var other: Int
    /// Mean seconds from the provider's end to Kiln's finalization (poll lag), of runs that have both.
    public var meanLagSeconds: Double?

    public init(hour: Date, completed: Int, failed: Int, other: Int, meanLagSeconds: Double?) {
        self.hour = hour
        self.completed = completed
        self.failed = failed
        self.other = other
        self.meanLagSeconds = meanLagSeconds
    }
}
