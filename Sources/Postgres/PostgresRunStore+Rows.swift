import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// Reading and writing rows of `ai_runs` on PostgreSQL.
extension PostgresRunStore {
    static let columns = """
        id, tenant_id, user_id, feature, subject_type, subject_id, idempotency_key, input::text AS input, \
        policy::text AS policy, status, attempt, response_id, provider_status, output::text AS output, \
        error::text AS error, usage::text AS usage, cost_micros, orphan_cost_micros, poll_count, \
        next_poll_at, available_at, lease_owner, lease_expires_at, cancel_requested_at, review_state, \
        reviewed_by, reviewed_at, reviewed_output::text AS reviewed_output, displayed_at, displayed_by, prompt_version, \
        send_started_at, created_at, submitted_at, provider_started_at, provider_completed_at, finalized_at, updated_at, \
        parent_run_id, chunk_index, level, char_start, char_end, erased_at, provider_deleted_at, wait_reason, reserved_cost_micros, \
        batch_id
        """

    /// ``columns`` with `input` read as `{}` (a tree parent's step never needs its document,
    /// which may be tens of megabytes).
    static let columnsWithoutInput = columns.replacingOccurrences(of: "input::text AS input", with: "'{}'::text AS input")

    /// `SELECT <every column but input> FROM ai_runs <tail>`.
    static func fetchWithoutInput(_ connection: PostgresConnection, _ tail: PostgresQuery, logger: Logger) async throws -> [Run] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(columnsWithoutInput) FROM ai_runs " + tail.sql)
        query.binds = tail.binds
        var runs: [Run] = []
        for try await row in try await connection.query(query, logger: logger) {
            runs.append(try decode(row.makeRandomAccess()))
        }
        return runs
    }

    /// `SELECT <every column> FROM ai_runs <tail>`.
    static func fetch(_ connection: PostgresConnection, _ tail: PostgresQuery, logger: Logger) async throws -> [Run] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(columns) FROM ai_runs " + tail.sql)
        query.binds = tail.binds
        var runs: [Run] = []
        for try await row in try await connection.query(query, logger: logger) {
            runs.append(try decode(row.makeRandomAccess()))
        }
        return runs
    }

    /// Columns are read by name, so a reordered select list can never swap two of them.
    static func decode(_ row: PostgresRandomAccessRow) throws -> Run {
        var c = StoredRunColumns()
        c.id = try row["id"].decode(String.self)
        c.tenantID = try row["tenant_id"].decode(String.self)
        c.userID = try row["user_id"].decode(String?.self)
        c.feature = try row["feature"].decode(String.self)
        c.subjectType = try row["subject_type"].decode(String?.self)
        c.subjectID = try row["subject_id"].decode(String?.self)
        c.idempotencyKey = try row["idempotency_key"].decode(String?.self)
        c.input = try row["input"].decode(String.self)
        c.policy = try row["policy"].decode(String.self)
        c.status = try row["status"].decode(String.self)
        c.attempt = try row["attempt"].decode(Int.self)
        c.responseID = try row["response_id"].decode(String?.self)
        c.providerStatus = try row["provider_status"].decode(String?.self)
        c.output = try row["output"].decode(String?.self)
        c.error = try row["error"].decode(String?.self)
        c.usage = try row["usage"].decode(String?.self)
        c.costMicros = try row["cost_micros"].decode(Int64?.self)
        c.orphanCostMicros = try row["orphan_cost_micros"].decode(Int64.self)
        c.pollCount = try row["poll_count"].decode(Int.self)
        c.nextPollAt = try row["next_poll_at"].decode(Date?.self)
        c.availableAt = try row["available_at"].decode(Date?.self)
        c.leaseOwner = try row["lease_owner"].decode(String?.self)
        c.leaseExpiresAt = try row["lease_expires_at"].decode(Date?.self)
        c.cancelRequestedAt = try row["cancel_requested_at"].decode(Date?.self)
        c.reviewState = try row["review_state"].decode(String?.self)
        c.reviewedBy = try row["reviewed_by"].decode(String?.self)
        c.reviewedAt = try row["reviewed_at"].decode(Date?.self)
        c.reviewedOutput = try row["reviewed_output"].decode(String?.self)
        c.displayedAt = try row["displayed_at"].decode(Date?.self)
        c.displayedBy = try row["displayed_by"].decode(String?.self)
        c.promptVersion = try row["prompt_version"].decode(String?.self)
        c.sendStartedAt = try row["send_started_at"].decode(Date?.self)
        c.createdAt = try row["created_at"].decode(Date?.self)
        c.submittedAt = try row["submitted_at"].decode(Date?.self)
        c.providerStartedAt = try row["provider_started_at"].decode(Date?.self)
        c.providerCompletedAt = try row["provider_completed_at"].decode(Date?.self)
        c.finalizedAt = try row["finalized_at"].decode(Date?.self)
        c.updatedAt = try row["updated_at"].decode(Date?.self)
        c.parentRunID = try row["parent_run_id"].decode(String?.self)
        c.chunkIndex = try row["chunk_index"].decode(Int?.self)
        c.level = try row["level"].decode(Int?.self)
        c.charStart = try row["char_start"].decode(Int?.self)
        c.charEnd = try row["char_end"].decode(Int?.self)
        c.erasedAt = try row["erased_at"].decode(Date?.self)
        c.providerDeletedAt = try row["provider_deleted_at"].decode(Date?.self)
        c.waitReason = try row["wait_reason"].decode(String?.self)
        c.reservedCostMicros = try row["reserved_cost_micros"].decode(Int64?.self)
        c.batchID = try row["batch_id"].decode(String?.self)
        return try c.run()
    }

    /// The guarded update of Kiln's half of the row, and its event; false when the guard failed.
    static func write(_ update: RunUpdate, _ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let run = update.run
        let rows = try await connection.query(
            """
            UPDATE ai_runs SET status = \(run.status.rawValue), attempt = \(run.attempt), response_id = \(run.responseID?.rawValue),
                provider_status = \(run.providerStatus), output = \(JSONText.encode(run.output))::jsonb,
                error = \(JSONText.encode(run.error))::jsonb, usage = \(JSONText.encode(run.usage))::jsonb,
                cost_micros = \(run.costMicros), poll_count = \(run.pollCount), next_poll_at = \(run.nextPollAt),
                available_at = \(run.availableAt), lease_owner = \(run.leaseOwner),
                lease_expires_at = CASE WHEN \(update.keepsLease) AND lease_expires_at > \(run.leaseExpiresAt) THEN lease_expires_at
                    ELSE \(run.leaseExpiresAt) END,
                review_state = coalesce(\(run.reviewState), review_state), prompt_version = \(run.promptVersion),
                send_started_at = \(run.sendStartedAt), submitted_at = \(run.submittedAt), provider_started_at = \(run.providerStartedAt),
                provider_completed_at = \(run.providerCompletedAt), finalized_at = \(run.finalizedAt), updated_at = \(run.updatedAt),
                level = \(run.level), wait_reason = \(run.waitReason), reserved_cost_micros = \(run.reservedCostMicros),
                batch_id = \(run.batchID)
            WHERE id = \(run.id.rawValue) AND status = \(update.expectedStatus.rawValue)
              AND lease_owner IS NOT DISTINCT FROM \(update.expectedLeaseOwner)
              AND (\(update.expectedAttempt)::integer IS NULL OR attempt = \(update.expectedAttempt))
            RETURNING id
            """, logger: logger)
        guard try await !rows.collect().isEmpty else { return false }
        if let event = update.event { try await insertEvent(event, connection, logger: logger) }
        return true
    }

    static func insertEvent(_ event: RunEvent, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
            VALUES (\(event.runID.rawValue), \(event.fromStatus?.rawValue), \(event.toStatus.rawValue), \(event.at),
                \(event.actor), \(event.kind), \(event.details.jsonText)::jsonb)
            """, logger: logger)
    }
}
