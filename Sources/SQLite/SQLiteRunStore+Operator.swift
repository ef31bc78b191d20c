import Foundation
import GRDB
import KilnDomain

/// What operators read and do: the gauges of `/metrics`, the dashboard's attention list and
/// charts, and an operator's retry of a failed run.
extension SQLiteRunStore {
    public func liveCounts() async throws -> LiveCounts {
        try await perform("count unfinished runs") { [pool] in
            try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT status, feature, count(*) AS n FROM ai_runs INDEXED BY ai_runs_status_created
                        WHERE status IN ('queued','submitting','in_progress') GROUP BY status, feature
                        """
                ).compactMap { row -> LiveCounts.Row? in
                    guard let status = RunStatus(rawValue: row["status"]) else { return nil }
                    return LiveCounts.Row(status: status, feature: row["feature"], count: row["n"])
                }
                let oldestQueued = try String.fetchOne(db, sql: "SELECT min(created_at) FROM ai_runs WHERE status = 'queued'")
                let oldestInFlight = try String.fetchOne(
                    db, sql: "SELECT min(coalesce(submitted_at, updated_at)) FROM ai_runs WHERE status IN ('submitting','in_progress')")
                return LiveCounts(
                    rows: rows, oldestQueuedAt: oldestQueued.flatMap(Timestamp.parse),
                    oldestInFlightSince: oldestInFlight.flatMap(Timestamp.parse))
            }
        }
    }

    public func attention(now: Date, limit: Int) async throws -> Attention {
        let stuckBefore = Timestamp.format(now.addingTimeInterval(-300))
        let nowText = Timestamp.format(now)
        let weekAgo = Timestamp.format(now.addingTimeInterval(-7 * 86_400))
        return try await perform("read what needs attention") { [pool] in
            try await pool.read { db in
                var attention = Attention()
                attention.possibleDuplicates = try String.fetchAll(
                    db,
                    sql: "SELECT DISTINCT run_id FROM ai_run_events WHERE kind = 'possible_duplicate' ORDER BY id DESC LIMIT ?",
                    arguments: [limit]
                ).map(RunID.init)
                attention.orphans = try String.fetchAll(
                    db, sql: "SELECT DISTINCT run_id FROM ai_run_events WHERE kind = 'orphan_response' ORDER BY id DESC LIMIT ?",
                    arguments: [limit]
                ).map(RunID.init)
                attention.stuck = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.columnsWithoutInput) FROM ai_runs WHERE status = 'submitting' AND lease_expires_at < ?
                        UNION ALL
                        SELECT \(Self.columnsWithoutInput) FROM ai_runs WHERE status = 'in_progress' AND next_poll_at < ?
                        LIMIT ?
                        """, arguments: [nowText, stuckBefore, limit]
                ).map(Self.decodeRun)
                // Unfinished runs whose deadline (created_at + the policy's deadline_seconds) is within 15 minutes;
                // not a long document's parent, whose deadline was sized for its tree when it was cut.
                attention.nearDeadline = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.columnsWithoutInput) FROM ai_runs INDEXED BY ai_runs_status_created
                        WHERE status IN ('queued','submitting','in_progress') AND NOT (level IS NOT NULL AND parent_run_id IS NULL)
                            AND strftime('%s', created_at) + coalesce(json_extract(policy, '$.deadline_seconds'), 3600)
                                < strftime('%s', ?) + 900
                        ORDER BY created_at LIMIT ?
                        """, arguments: [nowText, limit]
                ).map(Self.decodeRun)
                attention.failuresByCode = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT coalesce(json_extract(error, '$.code'), '?') AS code, count(*) AS n FROM ai_runs
                        WHERE finalized_at >= ? AND status = 'failed' GROUP BY code ORDER BY n DESC LIMIT ?
                        """, arguments: [weekAgo, limit]
                ).map { (code: $0["code"], count: $0["n"]) }
                attention.waiting = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(Self.columnsWithoutInput) FROM ai_runs INDEXED BY ai_runs_waiting
                        WHERE status = 'queued' AND wait_reason IS NOT NULL LIMIT ?
                        """, arguments: [limit]
                ).map(Self.decodeRun)
                return attention
            }
        }
    }

    public func activity(since: Date) async throws -> [ActivityHour] {
        try await perform("read recent activity") { [pool] in
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT substr(finalized_at, 1, 13) AS hour,
                            sum(status = 'completed') AS completed, sum(status = 'failed') AS failed,
                            sum(status NOT IN ('completed','failed')) AS other,
                            avg(CASE WHEN provider_completed_at IS NOT NULL
                                THEN (julianday(finalized_at) - julianday(provider_completed_at)) * 86400 END) AS lag
                        FROM ai_runs INDEXED BY ai_runs_finalized WHERE finalized_at >= ?
                        GROUP BY hour ORDER BY hour
                        """, arguments: [Timestamp.format(since)]
                ).compactMap { row -> ActivityHour? in
                    guard let hour = Timestamp.parse((row["hour"] as String) + ":00:00.000Z") else { return nil }
                    return ActivityHour(
                        hour: hour, completed: row["completed"], failed: row["failed"], other: row["other"], meanLagSeconds: row["lag"])
                }
            }
        }
    }

    public func retryRun(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run? {
        defer { localWrites.increment() }
        let at = Self.text(now)
        return try await perform("retry run \(id)") { [pool] in
            try await pool.write { db -> Run? in
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT * FROM ai_runs WHERE id = ? AND tenant_id = ?", arguments: [id.rawValue, tenant.rawValue])
                else { return nil }
                let run = try Self.decodeRun(row)
                guard let update = RunUpdate.make(.operatorRetry, on: run, at: now, actor: actor) else {
                    throw KilnError(
                        .conflict,
                        "run \(id) is \(run.status.rawValue)\(run.isTreeParent || run.parentRunID != nil ? " and part of a long document" : ""); only a failed or timed-out run that is not a long document's can be retried (a long document: kiln retry --failed-children)"
                    )
                }
                try db.execute(
                    sql: """
                        UPDATE ai_runs SET status = 'queued', attempt = 0, response_id = NULL, provider_status = NULL,
                            output = NULL, error = NULL, usage = NULL,
                            orphan_cost_micros = orphan_cost_micros + coalesce(cost_micros, 0), cost_micros = NULL,
                            poll_count = 0, next_poll_at = NULL, available_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                            cancel_requested_at = NULL, send_started_at = NULL, submitted_at = NULL, provider_started_at = NULL,
                            provider_completed_at = NULL, finalized_at = NULL, wait_reason = NULL, reserved_cost_micros = NULL, batch_id = NULL,
                            updated_at = ?
                        WHERE id = ? AND status = ?
                        """, arguments: [at, at, id.rawValue, run.status.rawValue])
                guard db.changesCount == 1 else { throw KilnError(.conflict, "run \(id) changed while being retried") }
                if let event = update.event { try Self.insertEvent(event, db) }
                return try Row.fetchOne(db, sql: "SELECT * FROM ai_runs WHERE id = ?", arguments: [id.rawValue]).map(Self.decodeRun)
            }
        }
    }
}

extension SQLiteRunStore {
    /// The WHERE clause of a listing, and its arguments.
    static func filter(_ query: RunQuery) -> (String, StatementArguments) {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        func add(_ condition: String, _ values: [(any DatabaseValueConvertible)?]) {
            conditions.append(condition)
            arguments += StatementArguments(values)
        }
        if let tenant = query.tenant { add("tenant_id = ?", [tenant.rawValue]) }
        if !query.includeChildren { conditions.append("parent_run_id IS NULL") }
        if let status = query.status { add("status = ?", [status.rawValue]) }
        if let feature = query.feature { add("feature = ?", [feature]) }
        if let subject = query.subject { add("subject_type = ? AND subject_id = ?", [subject.type, subject.id]) }
        if let code = query.errorCode { add("error IS NOT NULL AND json_extract(error, '$.code') = ?", [code]) }
        if let from = query.createdFrom { add("created_at >= ?", [Timestamp.format(from)]) }
        if let before = query.createdBefore { add("created_at < ?", [Timestamp.format(before)]) }
        if let search = query.search { add("(id = ? OR response_id = ? OR idempotency_key = ?)", [search, search, search]) }
        if let after = query.after {
            let at = Timestamp.format(after.createdAt)
            // The redundant bound gives SQLite an ordered range on the listing's index (the OR alone
            // makes it read and sort every older run of a tenant).
            add("created_at <= ? AND (created_at < ? OR (created_at = ? AND id < ?))", [at, at, at, after.id.rawValue])
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }
}

extension SQLiteRunStore {
    public func spendTotals(by dimension: SpendDimension, now: Date, limit: Int) async throws -> [SpendTotal] {
        let (today, week, month) = SpendTotal.days(now)
        let key = dimension == .tenant ? "tenant_id" : "feature"
        return try await perform("sum spend by \(dimension.rawValue)") { [pool] in
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT \(key) AS k, sum(CASE WHEN day = ? THEN cost_micros ELSE 0 END) AS today,
                            sum(CASE WHEN day >= ? THEN cost_micros ELSE 0 END) AS week, sum(cost_micros) AS month, sum(runs) AS runs
                        FROM kiln_usage_daily WHERE day >= ? GROUP BY k ORDER BY month DESC, k LIMIT ?
                        """, arguments: [today, week, month, limit]
                ).map {
                    SpendTotal(key: $0["k"], todayMicros: $0["today"], weekMicros: $0["week"], monthMicros: $0["month"], runs: $0["runs"])
                }
            }
        }
    }
}
