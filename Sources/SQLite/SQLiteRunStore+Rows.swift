import Foundation
import GRDB
import KilnDomain

/// Mapping between rows of `ai_runs` / `ai_run_events` and domain values.
extension SQLiteRunStore {
    static func decodeRun(_ row: Row) throws -> Run {
        func time(_ column: String) throws -> Date? {
            guard let text: String = row[column] else { return nil }
            guard let date = Timestamp.parse(text) else {
                throw KilnError(.database, "run \(row["id"] as String? ?? "?") has an unreadable \(column) \"\(text.prefix(40))\"")
            }
            return date
        }
        func json<T: Decodable>(_ type: T.Type, _ column: String) throws -> T? {
            guard let text: String = row[column] else { return nil }
            do {
                return try JSONDecoder().decode(T.self, from: Data(text.utf8))
            } catch {
                throw KilnError(.database, "run \(row["id"] as String? ?? "?") has an unreadable \(column) JSON")
            }
        }
        let created = try time("created_at") ?? Date(timeIntervalSince1970: 0)
        var run = Run(
            id: RunID(row["id"]), tenantID: TenantID(row["tenant_id"]), userID: row["user_id"],
            feature: row["feature"], idempotencyKey: row["idempotency_key"],
            input: try json(JSONValue.self, "input") ?? .null,
            policy: try json(JSONValue.self, "policy") ?? .object([:]), createdAt: created)
        if let type: String = row["subject_type"], let id: String = row["subject_id"] {
            run.subject = Subject(type: type, id: id)
        }
        let statusText: String = row["status"]
        guard let status = RunStatus(rawValue: statusText) else {
            throw KilnError(.database, "run \(run.id) has an unknown status \"\(statusText.prefix(40))\"")
        }
        run.status = status
        run.attempt = row["attempt"]
        run.responseID = (row["response_id"] as String?).map(ResponseID.init)
        run.providerStatus = row["provider_status"]
        run.output = try json(RunOutput.self, "output")
        run.error = try json(RunFailure.self, "error")
        run.usage = try json(RunUsage.self, "usage")
        run.costMicros = row["cost_micros"]
        run.pollCount = row["poll_count"]
        run.nextPollAt = try time("next_poll_at")
        run.availableAt = try time("available_at") ?? created
        run.leaseOwner = row["lease_owner"]
        run.leaseExpiresAt = try time("lease_expires_at")
        run.cancelRequestedAt = try time("cancel_requested_at")
        run.reviewState = row["review_state"]
        run.promptVersion = row["prompt_version"]
        run.sendStartedAt = try time("send_started_at")
        run.submittedAt = try time("submitted_at")
        run.providerCompletedAt = try time("provider_completed_at")
        run.finalizedAt = try time("finalized_at")
        run.updatedAt = try time("updated_at") ?? created
        return run
    }

    static func text(_ date: Date?) -> String? { date.map(Timestamp.format) }

    static func jsonText<T: Encodable>(_ value: T?) -> String? {
        guard let value else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func insertEvent(_ event: RunEvent, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.runID.rawValue, event.fromStatus?.rawValue, event.toStatus.rawValue, text(event.at),
                event.actor, event.kind, event.details.jsonText,
            ])
    }

    static func decodeEvent(_ row: Row) -> RunEvent {
        let details = (row["details"] as String?).flatMap { try? JSONValue.parse($0, what: "details") } ?? .null
        return RunEvent(
            id: row["id"], runID: RunID(row["run_id"]),
            fromStatus: (row["from_status"] as String?).flatMap(RunStatus.init(rawValue:)),
            toStatus: RunStatus(rawValue: row["to_status"]) ?? .queued,
            at: Timestamp.parse(row["at"]) ?? Date(timeIntervalSince1970: 0), actor: row["actor"],
            kind: row["kind"], details: details)
    }
}
