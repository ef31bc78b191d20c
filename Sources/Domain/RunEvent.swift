import Foundation

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

extension RunEvent {
    /// The `enqueued` event of a long document's child, written with it by `actor` (the process
    /// that cut the document or started the level): its parent, level and place.
    public static func childEnqueued(_ child: Run, actor: String) -> RunEvent {
        RunEvent(
            runID: child.id, fromStatus: nil, toStatus: .queued, at: child.createdAt, actor: actor, kind: "enqueued",
            details: [
                "parent_run_id": .string(child.parentRunID?.rawValue ?? ""), "level": .number(Double(child.level ?? 0)),
                "chunk_index": .number(Double(child.chunkIndex ?? 0)),
            ])
    }
}
