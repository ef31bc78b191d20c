import Foundation
import GRDB
import KilnDomain

/// What tenants spent (kept by the table's triggers in `kiln_usage_daily`) and pruning old runs.
extension SQLiteRunStore {
    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        try await perform("read spend") { [pool] in
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM ai_spend_daily WHERE day >= ? AND (? IS NULL OR tenant_id = ?) AND (? IS NULL OR feature = ?)
                        ORDER BY day, tenant_id, feature, model
                        """,
                    arguments: [
                        query.sinceDay, query.tenant?.rawValue, query.tenant?.rawValue, query.feature, query.feature,
                    ]
                ).map { row in
                    SpendRow(
                        day: row["day"], tenantID: TenantID(row["tenant_id"]), feature: row["feature"], model: row["model"],
                        runs: row["runs"], inputTokens: row["input_tokens"], outputTokens: row["output_tokens"],
                        cachedInputTokens: row["cached_input_tokens"], reasoningTokens: row["reasoning_tokens"],
                        costMicros: row["cost_micros"])
                }
            }
        }
    }

    /// Batches that ended before the cutoff and no longer hold a run (their runs were pruned
    /// first, or left them); bound by the prune's limit.
    static let pruneBatchesSQL = """
        DELETE FROM kiln_batches WHERE id IN (
            SELECT id FROM kiln_batches b WHERE state = 'done' AND ended_at < ?
                AND NOT EXISTS (SELECT 1 FROM ai_runs r WHERE r.batch_id = b.id) LIMIT ?)
        """

    public func prune(finalizedBefore cutoff: Date, limit: Int, deletingAfterFinalize: Bool) async throws -> Int {
        let before = Timestamp.format(cutoff)
        return try await perform("prune runs") { [pool] in
            try await pool.write { db in
                let ids = try String.fetchAll(
                    db,
                    sql: """
                        SELECT id FROM ai_runs r WHERE finalized_at IS NOT NULL AND finalized_at < ?
                            AND status NOT IN ('queued','submitting','in_progress')
                            AND NOT EXISTS (SELECT 1 FROM ai_runs p WHERE p.id = r.parent_run_id
                                AND p.status IN ('queued','submitting','in_progress'))
                            AND NOT EXISTS (SELECT 1 FROM ai_runs c WHERE c.parent_run_id = r.id
                                AND c.status IN ('queued','submitting','in_progress'))
                            AND (r.response_id IS NULL OR r.provider_deleted_at IS NOT NULL
                                OR r.provider_delete_after = '9999-12-31T00:00:00.000Z'
                                OR (r.provider_delete_after IS NULL AND NOT ?))
                        ORDER BY finalized_at LIMIT ?
                        """, arguments: [before, deletingAfterFinalize, limit])
                var pruned = 0
                if !ids.isEmpty {
                    let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
                    try db.execute(sql: "DELETE FROM ai_run_events WHERE run_id IN (\(marks))", arguments: StatementArguments(ids))
                    try db.execute(sql: "DELETE FROM ai_runs WHERE id IN (\(marks))", arguments: StatementArguments(ids))
                    pruned = db.changesCount
                }
                try db.execute(sql: Self.pruneBatchesSQL, arguments: [before, limit])
                return pruned
            }
        }
    }
}
