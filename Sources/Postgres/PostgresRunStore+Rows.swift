import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// Reading and writing rows of `ai_runs` on PostgreSQL.
extension PostgresRunStore {
    static let columns = """
        id, tenant_id, user_id, feature, subject_type, subject_id, idempotency_key, input::text, policy::text, status, \
        attempt, response_id, provider_status, output::text, error::text, usage::text, cost_micros, poll_count, \
        next_poll_at, available_at, lease_owner, lease_expires_at, cancel_requested_at, review_state, prompt_version, \
        send_started_at, created_at, submitted_at, provider_completed_at, finalized_at, updated_at
        """

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

    static func decode(_ row: PostgresRandomAccessRow) throws -> Run {
        var c = StoredRunColumns()
        c.id = try row[0].decode(String.self)
        c.tenantID = try row[1].decode(String.self)
        c.userID = try row[2].decode(String?.self)
        c.feature = try row[3].decode(String.self)
        c.subjectType = try row[4].decode(String?.self)
        c.subjectID = try row[5].decode(String?.self)
        c.idempotencyKey = try row[6].decode(String?.self)
        c.input = try row[7].decode(String.self)
        c.policy = try row[8].decode(String.self)
        c.status = try row[9].decode(String.self)
        c.attempt = try row[10].decode(Int.self)
        c.responseID = try row[11].decode(String?.self)
        c.providerStatus = try row[12].decode(String?.self)
        c.output = try row[13].decode(String?.self)
        c.error = try row[14].decode(String?.self)
        c.usage = try row[15].decode(String?.self)
        c.costMicros = try row[16].decode(Int64?.self)
        c.pollCount = try row[17].decode(Int.self)
        c.nextPollAt = try row[18].decode(Date?.self)
        c.availableAt = try row[19].decode(Date?.self)
        c.leaseOwner = try row[20].decode(String?.self)
        c.leaseExpiresAt = try row[21].decode(Date?.self)
        c.cancelRequestedAt = try row[22].decode(Date?.self)
        c.reviewState = try row[23].decode(String?.self)
        c.promptVersion = try row[24].decode(String?.self)
        c.sendStartedAt = try row[25].decode(Date?.self)
        c.createdAt = try row[26].decode(Date?.self)
        c.submittedAt = try row[27].decode(Date?.self)
        c.providerCompletedAt = try row[28].decode(Date?.self)
        c.finalizedAt = try row[29].decode(Date?.self)
        c.updatedAt = try row[30].decode(Date?.self)
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
                available_at = \(run.availableAt), lease_owner = \(run.leaseOwner), lease_expires_at = \(run.leaseExpiresAt),
                review_state = coalesce(\(run.reviewState), review_state), prompt_version = \(run.promptVersion),
                send_started_at = \(run.sendStartedAt), submitted_at = \(run.submittedAt),
                provider_completed_at = \(run.providerCompletedAt), finalized_at = \(run.finalizedAt), updated_at = \(run.updatedAt)
            WHERE id = \(run.id.rawValue) AND status = \(update.expectedStatus.rawValue)
              AND lease_owner IS NOT DISTINCT FROM \(update.expectedLeaseOwner)
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
