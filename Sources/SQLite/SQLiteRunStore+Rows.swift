import Foundation
import GRDB
import KilnDomain

/// Mapping between rows of `ai_runs` / `ai_run_events` and domain values.
extension SQLiteRunStore {
    /// `inputInPlace`: parse `input` from SQLite's own buffer, with no copy of its text (a long
    /// document may be tens of megabytes); only for a row read from a cursor, not a copied row.
    static func decodeRun(_ row: Row) throws -> Run { try decodeRun(row, inputInPlace: false) }

    static func decodeRun(_ row: Row, inputInPlace: Bool) throws -> Run {
        func time(_ column: String) throws -> Date? { try Self.time(row, column, of: "run") }
        var c = StoredRunColumns()
        c.id = row["id"]
        c.tenantID = row["tenant_id"]
        c.userID = row["user_id"]
        c.feature = row["feature"]
        c.subjectType = row["subject_type"]
        c.subjectID = row["subject_id"]
        c.idempotencyKey = row["idempotency_key"]
        if inputInPlace {
            c.parsedInput = try row.withUnsafeData(named: "input") { data -> JSONValue? in
                guard let data else { return nil }
                do {
                    return try JSONDecoder().decode(JSONValue.self, from: data)
                } catch {
                    throw KilnError(.database, "run \(row["id"] as String? ?? "?") has an unreadable input JSON")
                }
            }
        } else {
            c.input = row["input"]
        }
        c.policy = row["policy"]
        c.status = row["status"]
        c.attempt = row["attempt"]
        c.responseID = row["response_id"]
        c.providerStatus = row["provider_status"]
        c.output = row["output"]
        c.error = row["error"]
        c.usage = row["usage"]
        c.costMicros = row["cost_micros"]
        c.orphanCostMicros = row["orphan_cost_micros"]
        c.pollCount = row["poll_count"]
        c.nextPollAt = try time("next_poll_at")
        c.availableAt = try time("available_at")
        c.leaseOwner = row["lease_owner"]
        c.leaseExpiresAt = try time("lease_expires_at")
        c.cancelRequestedAt = try time("cancel_requested_at")
        c.reviewState = row["review_state"]
        c.reviewedBy = row["reviewed_by"]
        c.reviewedAt = try time("reviewed_at")
        c.reviewedOutput = row["reviewed_output"]
        c.displayedAt = try time("displayed_at")
        c.displayedBy = row["displayed_by"]
        c.promptVersion = row["prompt_version"]
        c.sendStartedAt = try time("send_started_at")
        c.createdAt = try time("created_at")
        c.submittedAt = try time("submitted_at")
        c.providerStartedAt = try time("provider_started_at")
        c.providerCompletedAt = try time("provider_completed_at")
        c.finalizedAt = try time("finalized_at")
        c.updatedAt = try time("updated_at")
        c.parentRunID = row["parent_run_id"]
        c.chunkIndex = row["chunk_index"]
        c.level = row["level"]
        c.charStart = row["char_start"]
        c.charEnd = row["char_end"]
        c.erasedAt = try time("erased_at")
        c.providerDeletedAt = try time("provider_deleted_at")
        c.waitReason = row["wait_reason"]
        c.reservedCostMicros = row["reserved_cost_micros"]
        c.batchID = row["batch_id"]
        return try c.run()
    }

    static func text(_ date: Date?) -> String? { date.map(Timestamp.format) }

    /// The time in `column` of a row of `table` (`run`, `batch`); an unreadable one is an error
    /// naming the row, never read as 1970.
    static func time(_ row: Row, _ column: String, of table: String) throws -> Date? {
        guard let text: String = row[column] else { return nil }
        guard let date = Timestamp.parse(text) else {
            throw KilnError(.database, "\(table) \(row["id"] as String? ?? "?") has an unreadable \(column) \"\(text.prefix(40))\"")
        }
        return date
    }

    /// Every column of `ai_runs` but `input`, which is read as `{}` (a tree parent's step
    /// never needs its document, which may be tens of megabytes).
    static let columnsWithoutInput = """
        id, tenant_id, user_id, feature, subject_type, subject_id, idempotency_key, '{}' AS input, policy, status, attempt, \
        response_id, provider_status, output, error, usage, cost_micros, orphan_cost_micros, poll_count, next_poll_at, \
        available_at, lease_owner, lease_expires_at, cancel_requested_at, review_state, reviewed_by, reviewed_at, \
        reviewed_output, displayed_at, displayed_by, prompt_version, send_started_at, created_at, submitted_at, \
        provider_started_at, provider_completed_at, finalized_at, updated_at, parent_run_id, chunk_index, level, \
        char_start, char_end, erased_at, provider_deleted_at, wait_reason, reserved_cost_micros, batch_id
        """

    /// Inserts `run` as a new row: the application's half, and the tree columns of a child.
    static func insertRow(_ run: Run, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO ai_runs (id, tenant_id, user_id, feature, subject_type, subject_id,
                    idempotency_key, input, policy, status, prompt_version, available_at, created_at, updated_at,
                    parent_run_id, chunk_index, level, char_start, char_end)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                run.id.rawValue, run.tenantID.rawValue, run.userID, run.feature, run.subject?.type,
                run.subject?.id, run.idempotencyKey, run.input.jsonText, run.policy.jsonText,
                run.status.rawValue, run.promptVersion, text(run.availableAt), text(run.createdAt),
                text(run.updatedAt), run.parentRunID?.rawValue, run.chunkIndex, run.level, run.charStart, run.charEnd,
            ])
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

    static func decodeEvent(_ row: Row) throws -> RunEvent {
        let atText: String? = row["at"]
        return try StoredEventColumns(
            id: row["id"], runID: row["run_id"], fromStatus: row["from_status"], toStatus: row["to_status"],
            at: atText.flatMap(Timestamp.parse), atText: atText, actor: row["actor"], kind: row["kind"], details: row["details"]
        ).event()
    }

}
