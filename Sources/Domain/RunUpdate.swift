import Foundation

/// A guarded write: persist `run` only if the row still has `expectedStatus` and
/// `expectedLeaseOwner`, and append `event` in the same transaction.
///
/// Two processes racing on one run both build an update from what they read; only the
/// first one's guard matches, so a run is finalized once.
public struct RunUpdate: Sendable {
    public var run: Run
    public var expectedStatus: RunStatus
    public var expectedLeaseOwner: String?
    public var event: RunEvent?

    public init(run: Run, expectedStatus: RunStatus, expectedLeaseOwner: String?, event: RunEvent?) {
        self.run = run
        self.expectedStatus = expectedStatus
        self.expectedLeaseOwner = expectedLeaseOwner
        self.event = event
    }

    /// Applies `transition` to `current` at `now`; nil when the transition is not allowed.
    ///
    /// An event row is written for every status change, and for the steps worth auditing
    /// that keep the status (the send mark); routine poll bookkeeping writes none.
    public static func make(
        _ transition: RunTransition, on current: Run, at now: Date, actor: String, details: [String: JSONValue] = [:]
    ) -> RunUpdate? {
        guard let next = transition.apply(to: current, at: now) else { return nil }
        let audited: Bool
        switch transition {
        case .markSend, .requestCancellation: audited = true
        default: audited = next.status != current.status
        }
        var eventDetails = details
        if next.attempt > 0 { eventDetails["attempt"] = .number(Double(next.attempt)) }
        let event =
            audited
            ? RunEvent(
                runID: current.id, fromStatus: current.status, toStatus: next.status, at: now, actor: actor,
                kind: transition.eventKind, details: .object(eventDetails))
            : nil
        return RunUpdate(run: next, expectedStatus: current.status, expectedLeaseOwner: current.leaseOwner, event: event)
    }
}

extension RunUpdate {
    /// Whether `current`, read back from the store, already is this update's result (an
    /// earlier attempt committed although its answer was lost): the same status, lease,
    /// attempt, poll count, response id and the same `updated_at` to the millisecond.
    public func isApplied(in current: Run) -> Bool {
        current.status == run.status && current.leaseOwner == run.leaseOwner && current.attempt == run.attempt
            && current.pollCount == run.pollCount && current.responseID == run.responseID
            && Timestamp.format(current.updatedAt) == Timestamp.format(run.updatedAt)
    }
}

/// One row of `ai_run_events`: the audit trail of a run.
public struct RunEvent: Sendable, Hashable, Encodable {
    public var id: Int64?
    public var runID: RunID
    public var fromStatus: RunStatus?
    public var toStatus: RunStatus
    public var at: Date
    /// The process that acted (`host:pid`), or `app` for the library facade.
    public var actor: String
    /// What happened: `claimed`, `accepted`, `finalized`, `possible_duplicate`, …
    public var kind: String
    public var details: JSONValue

    public init(
        id: Int64? = nil, runID: RunID, fromStatus: RunStatus?, toStatus: RunStatus, at: Date, actor: String,
        kind: String, details: JSONValue = .object([:])
    ) {
        self.id = id
        self.runID = runID
        self.fromStatus = fromStatus
        self.toStatus = toStatus
        self.at = at
        self.actor = actor
        self.kind = kind
        self.details = details
    }

    enum CodingKeys: String, CodingKey {
        case id
        case runID = "run_id"
        case fromStatus = "from_status"
        case toStatus = "to_status"
        case at, actor, kind, details
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(runID, forKey: .runID)
        try c.encode(fromStatus, forKey: .fromStatus)
        try c.encode(toStatus, forKey: .toStatus)
        try c.encode(Timestamp.format(at), forKey: .at)
        try c.encode(actor, forKey: .actor)
        try c.encode(kind, forKey: .kind)
        try c.encode(details, forKey: .details)
    }
}
