import Foundation
import GRDB
import KilnDomain

/// What the store reports rather than changes: counts, learned run times, the next due time.
extension SQLiteRunStore {
    public func summary() async throws -> RunSummary {
        try await perform("summarize runs") { [pool] in
            try await pool.read { db in
                var counts: [String: Int] = [:]
                var childCounts: [String: Int] = [:]
                // By status over the covering status index, then the children (few) apart through the
                // tree index: no read of a million rows' pages.
                for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM ai_runs INDEXED BY ai_runs_status GROUP BY status")
                {
                    counts[row["status"]] = row["n"]
                }
                for row in try Row.fetchAll(
                    db, sql: "SELECT status, count(*) AS n FROM ai_runs WHERE parent_run_id IS NOT NULL GROUP BY status")
                {
                    let status: String = row["status"]
                    childCounts[status] = row["n"]
                    let parents = (counts[status] ?? 0) - (row["n"] as Int)
                    counts[status] = parents > 0 ? parents : nil
                }
                let oldest = try String.fetchOne(
                    db, sql: "SELECT min(created_at) FROM ai_runs WHERE status = 'queued' AND parent_run_id IS NULL")
                let costs = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT coalesce(sum(CASE WHEN level IS NULL OR parent_run_id IS NOT NULL THEN cost_micros END), 0) AS cost,
                            coalesce(sum(orphan_cost_micros), 0) AS orphans FROM ai_runs
                        """)
                let cost: Int64 = costs?["cost"] ?? 0
                let orphanCost: Int64 = costs?["orphans"] ?? 0
                let duplicates =
                    try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM ai_run_events WHERE kind = 'possible_duplicate'") ?? 0
                let orphans = try Int.fetchOne(db, sql: "SELECT count(*) FROM ai_run_events WHERE kind = 'orphan_response'") ?? 0
                var summary = RunSummary(
                    counts: counts, oldestQueuedAt: oldest.flatMap(Timestamp.parse),
                    inFlight: (counts["submitting"] ?? 0) + (counts["in_progress"] ?? 0), costMicros: cost + orphanCost,
                    possibleDuplicates: duplicates, orphanResponses: orphans, orphanCostMicros: orphanCost)
                summary.childCounts = childCounts
                for row in try Row.fetchAll(
                    db,
                    sql: """
                        SELECT wait_reason, count(*) AS n FROM ai_runs INDEXED BY ai_runs_waiting
                        WHERE status = 'queued' AND wait_reason IS NOT NULL GROUP BY wait_reason
                        """)
                {
                    summary.waiting[row["wait_reason"]] = row["n"]
                }
                summary.providerDeletionsGivenUp =
                    try Int.fetchOne(
                        db,
                        sql: """
                            SELECT count(*) FROM ai_runs INDEXED BY ai_runs_provider_delete_scheduled
                            WHERE provider_delete_after >= ? AND provider_deleted_at IS NULL AND response_id IS NOT NULL
                            """, arguments: [Timestamp.format(DocumentTree.heldUntil)]) ?? 0
                summary.quotaExhaustedAt = try String.fetchOne(
                    db, sql: "SELECT max(at) FROM ai_run_events WHERE kind = 'quota_exhausted'"
                ).flatMap(Timestamp.parse)
                for row in try Row.fetchAll(
                    db, sql: "SELECT state, count(*) AS n FROM kiln_batches WHERE state <> 'done' GROUP BY state")
                {
                    summary.batches[row["state"]] = row["n"]
                }
                return summary
            }
        }
    }

    public func recentRunDurations(feature: String, model: String, defaultModel: String, limit: Int) async throws -> [Double] {
        try await perform("read recent run times") { [pool] in
            try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT submitted_at, provider_completed_at FROM ai_runs
                        WHERE status = 'completed' AND feature = ? AND coalesce(json_extract(policy, '$.model'), ?) = ?
                            AND submitted_at IS NOT NULL AND provider_completed_at IS NOT NULL
                            AND (level IS NULL OR parent_run_id IS NOT NULL)
                        ORDER BY finalized_at DESC LIMIT ?
                        """,
                    arguments: [feature, defaultModel, model, limit])
                return rows.compactMap { row -> Double? in
                    guard let start = Timestamp.parse(row["submitted_at"]), let end = Timestamp.parse(row["provider_completed_at"])
                    else { return nil }
                    return end.timeIntervalSince(start)
                }
            }
        }
    }

    public func nextDueDate() async throws -> Date? {
        try await perform("find the next due time") { [pool] in
            try await pool.read { db in
                let texts = try [
                    String.fetchOne(db, sql: "SELECT min(available_at) FROM ai_runs WHERE status = 'queued'"),
                    String.fetchOne(db, sql: "SELECT min(next_poll_at) FROM ai_runs WHERE status = 'in_progress'"),
                    String.fetchOne(db, sql: "SELECT min(lease_expires_at) FROM ai_runs WHERE status = 'submitting'"),
                ]
                return texts.compactMap { $0.flatMap(Timestamp.parse) }.min()
            }
        }
    }
}
