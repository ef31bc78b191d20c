import Foundation

/// A row of `ai_run_events` as a store reads it, before it is a ``RunEvent``. A status Kiln
/// does not know, a time it cannot read or details that are not JSON are reported as errors
/// that name the event, never replaced by a default (an audit trail that says `queued` or
/// 1970 where the row says something else would be wrong without anyone noticing).
public struct StoredEventColumns: Sendable {
    public var id: Int64
    public var runID: String
    public var fromStatus: String?
    public var toStatus: String
    /// Nil when the store could not read the time; `atText` then says what it read.
    public var at: Date?
    public var atText: String?
    public var actor: String
    public var kind: String
    public var details: String?

    public init(
        id: Int64, runID: String, fromStatus: String?, toStatus: String, at: Date?, atText: String? = nil, actor: String,
        kind: String, details: String?
    ) {
        self.id = id
        self.runID = runID
        self.fromStatus = fromStatus
        self.toStatus = toStatus
        self.at = at
        self.atText = atText
        self.actor = actor
        self.kind = kind
        self.details = details
    }

    public func event() throws(KilnError) -> RunEvent {
        let name = "event \(id) of run \(runID.prefix(64))"
        func status(_ text: String) throws(KilnError) -> RunStatus {
            guard let status = RunStatus(rawValue: text) else {
                throw KilnError(.database, "\(name) has an unknown status \"\(text.prefix(40))\"")
            }
            return status
        }
        guard let at else { throw KilnError(.database, "\(name) has an unreadable time \"\((atText ?? "").prefix(40))\"") }
        var parsedDetails = JSONValue.null
        if let details {
            do {
                parsedDetails = try JSONValue.parse(details, what: "details")
            } catch {
                throw KilnError(.database, "\(name) has unreadable details JSON")
            }
        }
        return RunEvent(
            id: id, runID: RunID(runID), fromStatus: try fromStatus.map(status), toStatus: try status(toStatus), at: at,
            actor: actor, kind: kind, details: parsedDetails)
    }
}
