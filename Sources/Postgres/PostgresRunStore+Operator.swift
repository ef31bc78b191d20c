import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// What operators read and do: the gauges of `/metrics`, the dashboard's listings, attention
/// list and charts, and an operator's retry of a failed run.
extension PostgresRunStore {
    static let operatorMigration: (String, [String]) = (
        // The dashboard's listings: newest first under each filter, and lookups by any id.
        "v11_operator",
        [
            "CREATE INDEX ai_runs_status_created ON ai_runs (status, created_at)",
            "CREATE INDEX ai_runs_feature_created ON ai_runs (feature, created_at)",
            "CREATE INDEX ai_runs_created ON ai_runs (created_at)",
            "CREATE INDEX ai_runs_error_code ON ai_runs ((error->>'code'), created_at) WHERE error IS NOT NULL",
            "CREATE INDEX ai_runs_idempotency ON ai_runs (idempotency_key) WHERE idempotency_key IS NOT NULL",
            "CREATE INDEX ai_runs_subject_created ON ai_runs (subject_type, subject_id, created_at)",
            "CREATE INDEX ai_run_events_quota ON ai_run_events (at) WHERE kind = 'quota_exhausted'",
            // Failures are concentrated in a few codes: without this the planner takes status and
            // code as independent and reads every failure of a code to sort it (PostgreSQL 14+).
            "CREATE STATISTICS ai_runs_status_error (dependencies, mcv) ON status, (error->>'code') FROM ai_runs",
        ]
    )

    /// The WHERE clause and order of a listing.
    static func filter(_ query: RunQuery) -> PostgresQuery {
        let subjectType = query.subject?.type
        let subjectID = query.subject?.id
        let afterAt = query.after?.createdAt
        let afterID = query.after?.id.rawValue
        return """
            WHERE (\(query.tenant?.rawValue)::text IS NULL OR tenant_id = \(query.tenant?.rawValue))
              AND (\(query.status?.rawValue)::text IS NULL OR status = \(query.status?.rawValue))
              AND (\(query.includeChildren) OR parent_run_id IS NULL)
              AND (\(query.feature)::text IS NULL OR feature = \(query.feature))
              AND (\(subjectType)::text IS NULL OR (subject_type = \(subjectType) AND subject_id = \(subjectID)))
              AND (\(query.errorCode)::text IS NULL OR (error IS NOT NULL AND error->>'code' = \(query.errorCode)))
              AND (\(query.createdFrom)::timestamptz IS NULL OR created_at >= \(query.createdFrom))
              AND (\(query.createdBefore)::timestamptz IS NULL OR created_at < \(query.createdBefore))
              AND (\(query.search)::text IS NULL OR id = \(query.search) OR response_id = \(query.search) OR idempotency_key = \(query.search))
              AND (\(afterAt)::timestamptz IS NULL OR (created_at, id) < (\(afterAt), \(afterID)))
            ORDER BY created_at DESC, id DESC LIMIT \(query.limit)
            """
    }

    public func liveCounts() async throws -> LiveCounts {
        try await perform("count unfinished runs") { [self] in
            var rows: [LiveCounts.Row] = []
            for try await (status, feature, count) in try await client.query(
                """
                SELECT status, feature, count(*)::bigint FROM ai_runs WHERE status IN ('queued', 'submitting', 'in_progress')
                GROUP BY status, feature
                """, logger: logger
            ).decode((String, String, Int64).self) {
                if let status = RunStatus(rawValue: status) {
                    rows.append(LiveCounts.Row(status: status, feature: feature, count: Int(count)))
                }
            }
            var oldest: (Date?, Date?) = (nil, nil)
            for try await pair in try await client.query(
                """
                SELECT (SELECT min(created_at) FROM ai_runs WHERE status = 'queued'),
                       (SELECT min(coalesce(submitted_at, updated_at)) FROM ai_runs WHERE status IN ('submitting', 'in_progress'))
                """, logger: logger
            ).decode((Date?, Date?).self) {
                oldest = pair
            }
            return LiveCounts(rows: rows, oldestQueuedAt: oldest.0, oldestInFlightSince: oldest.1)
        }
    }

    public func attention(now: Date, limit: Int) async throws -> Attention {
        try await perform("read what needs attention") { [self] in
            try await client.withConnection { connection in
                var attention = Attention()
                for try await id in try await connection.query(
                    """
                    SELECT run_id FROM (SELECT run_id, max(id) AS last FROM ai_run_events WHERE kind = 'possible_duplicate'
                        GROUP BY run_id) d ORDER BY last DESC LIMIT \(limit)
                    """, logger: logger
                ).decode(String.self) { attention.possibleDuplicates.append(RunID(id)) }
                for try await id in try await connection.query(
                    """
                    SELECT run_id FROM (SELECT run_id, max(id) AS last FROM ai_run_events WHERE kind = 'orphan_response'
                        GROUP BY run_id) d ORDER BY last DESC LIMIT \(limit)
                    """, logger: logger
                ).decode(String.self) { attention.orphans.append(RunID(id)) }
                let stuckBefore = now.addingTimeInterval(-300)
                attention.stuck = try await Self.fetchWithoutInput(
                    connection,
                    """
                    WHERE (status = 'submitting' AND lease_expires_at < \(now)) OR (status = 'in_progress' AND next_poll_at < \(stuckBefore))
                    LIMIT \(limit)
                    """, logger: logger)
                attention.nearDeadline = try await Self.fetchWithoutInput(
                    connection,
                    """
                    WHERE status IN ('queued', 'submitting', 'in_progress') AND NOT (level IS NOT NULL AND parent_run_id IS NULL)
                        AND created_at + make_interval(secs => coalesce((policy->>'deadline_seconds')::float8, 3600))
                            < \(now)::timestamptz + interval '15 minutes'
                    ORDER BY created_at LIMIT \(limit)
                    """, logger: logger)
                for try await (code, count) in try await connection.query(
                    """
                    SELECT coalesce(error->>'code', '?'), count(*)::bigint FROM ai_runs
                    WHERE finalized_at >= \(now.addingTimeInterval(-7 * 86_400)) AND status = 'failed'
                    GROUP BY 1 ORDER BY 2 DESC LIMIT \(limit)
                    """, logger: logger
                ).decode((String, Int64).self) { attention.failuresByCode.append((code, Int(count))) }
                attention.waiting = try await Self.fetchWithoutInput(
                    connection, "WHERE status = 'queued' AND wait_reason IS NOT NULL LIMIT \(limit)", logger: logger)
                return attention
            }
        }
    }

    public func activity(since: Date) async throws -> [ActivityHour] {
        try await perform("read recent activity") { [self] in
            var hours: [ActivityHour] = []
            for try await (hour, completed, failed, other, lag) in try await client.query(
                """
                SELECT date_trunc('hour', finalized_at), count(*) FILTER (WHERE status = 'completed'),
                    count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status NOT IN ('completed', 'failed')),
                    avg(extract(epoch FROM finalized_at - provider_completed_at))::float8
                FROM ai_runs WHERE finalized_at >= \(since) GROUP BY 1 ORDER BY 1
                """, logger: logger
            ).decode((Date, Int64, Int64, Int64, Double?).self) {
                hours.append(
                    ActivityHour(hour: hour, completed: Int(completed), failed: Int(failed), other: Int(other), meanLagSeconds: lag))
            }
            return hours
        }
    }

    public func retryRun(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run? {
        try await perform("retry run \(id)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Run? in
                guard
                    let run = try await Self.fetch(
                        connection, "WHERE id = \(id.rawValue) AND tenant_id = \(tenant.rawValue) FOR UPDATE", logger: logger
                    ).first
                else { return nil }
                guard let update = RunUpdate.make(.operatorRetry, on: run, at: now, actor: actor) else {
                    throw KilnError(
                        .conflict,
                        "run \(id) is \(run.status.rawValue)\(run.isTreeParent || run.parentRunID != nil ? " and part of a long document" : ""); only a failed or timed-out run that is not a long document's can be retried (a long document: kiln retry --failed-children)"
                    )
                }
                try await connection.query(
                    """
                    UPDATE ai_runs SET status = 'queued', attempt = 0, response_id = NULL, provider_status = NULL,
                        output = NULL, error = NULL, usage = NULL,
                        orphan_cost_micros = orphan_cost_micros + coalesce(cost_micros, 0), cost_micros = NULL,
                        poll_count = 0, next_poll_at = NULL, available_at = \(now), lease_owner = NULL, lease_expires_at = NULL,
                        cancel_requested_at = NULL, send_started_at = NULL, submitted_at = NULL, provider_started_at = NULL,
                        provider_completed_at = NULL, finalized_at = NULL, wait_reason = NULL, reserved_cost_micros = NULL, batch_id = NULL,
                        updated_at = \(now)
                    WHERE id = \(id.rawValue)
                    """, logger: logger)
                if let event = update.event { try await Self.insertEvent(event, connection, logger: logger) }
                try await connection.query("SELECT pg_notify('kiln_runs', 'retry')", logger: logger)
                return try await Self.fetch(connection, "WHERE id = \(id.rawValue)", logger: logger).first
            }
        }
    }
}

extension PostgresRunStore {
    public func spendTotals(by dimension: SpendDimension, now: Date, limit: Int) async throws -> [SpendTotal] {
        let (today, week, month) = SpendTotal.days(now)
        let key = dimension == .tenant ? "tenant_id" : "feature"
        return try await perform("sum spend by \(dimension.rawValue)") { [self] in
            var query = PostgresQuery(
                unsafeSQL: """
                    SELECT \(key), sum(CASE WHEN day = $1::date THEN cost_micros ELSE 0 END)::bigint,
                        sum(CASE WHEN day >= $2::date THEN cost_micros ELSE 0 END)::bigint, sum(cost_micros)::bigint, sum(runs)::bigint
                    FROM kiln_usage_daily WHERE day >= $3::date GROUP BY 1 ORDER BY 4 DESC, 1 LIMIT $4
                    """)
            query.binds.append(today)
            query.binds.append(week)
            query.binds.append(month)
            query.binds.append(limit)
            var totals: [SpendTotal] = []
            for try await (name, todayCost, weekCost, monthCost, runs) in try await client.query(query, logger: logger).decode(
                (String, Int64, Int64, Int64, Int64).self)
            {
                totals.append(SpendTotal(key: name, todayMicros: todayCost, weekMicros: weekCost, monthMicros: monthCost, runs: Int(runs)))
            }
            return totals
        }
    }
}
