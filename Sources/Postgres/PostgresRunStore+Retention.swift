import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// What tenants spent (kept by the table's triggers in `kiln_usage_daily`) and pruning old runs.
extension PostgresRunStore {
    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        try await perform("read spend") { [self] in
            let rows = try await client.query(
                """
                SELECT to_char(day, 'YYYY-MM-DD'), tenant_id, feature, model, runs, input_tokens, output_tokens, cached_input_tokens,
                    reasoning_tokens, cost_micros
                FROM ai_spend_daily WHERE day >= \(query.sinceDay)::date
                    AND (\(query.tenant?.rawValue)::text IS NULL OR tenant_id = \(query.tenant?.rawValue))
                    AND (\(query.feature)::text IS NULL OR feature = \(query.feature))
                ORDER BY day, tenant_id, feature, model
                """, logger: logger)
            var spend: [SpendRow] = []
            for try await (day, tenant, feature, model, runs, input, output, cached, reasoning, cost) in rows.decode(
                (String, String, String, String, Int, Int, Int, Int, Int, Int64).self)
            {
                spend.append(
                    SpendRow(
                        day: day, tenantID: TenantID(tenant), feature: feature, model: model, runs: runs, inputTokens: input,
                        outputTokens: output, cachedInputTokens: cached, reasoningTokens: reasoning, costMicros: cost))
            }
            return spend
        }
    }

    public func prune(finalizedBefore cutoff: Date, limit: Int, deletingAfterFinalize: Bool) async throws -> Int {
        try await perform("prune runs") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Int in
                var ids: [String] = []
                for try await id in try await connection.query(
                    """
                    SELECT id FROM ai_runs r WHERE finalized_at IS NOT NULL AND finalized_at < \(cutoff)
                        AND status NOT IN ('queued', 'submitting', 'in_progress')
                        AND NOT EXISTS (SELECT 1 FROM ai_runs p WHERE p.id = r.parent_run_id
                            AND p.status IN ('queued', 'submitting', 'in_progress'))
                        AND NOT EXISTS (SELECT 1 FROM ai_runs c WHERE c.parent_run_id = r.id
                            AND c.status IN ('queued', 'submitting', 'in_progress'))
                        AND (r.response_id IS NULL OR r.provider_deleted_at IS NOT NULL
                            OR r.provider_delete_after = \(DocumentTree.heldUntil)
                            OR (r.provider_delete_after IS NULL AND NOT \(deletingAfterFinalize)))
                    ORDER BY finalized_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                    """, logger: logger
                ).decode(String.self) { ids.append(id) }
                var pruned = 0
                if !ids.isEmpty {
                    try await connection.query("DELETE FROM ai_run_events WHERE run_id = ANY(\(ids))", logger: logger)
                    pruned = try await connection.query("DELETE FROM ai_runs WHERE id = ANY(\(ids)) RETURNING id", logger: logger)
                        .collect().count
                }
                // Batches that ended before the cutoff and no longer hold a run.
                try await connection.query(
                    """
                    DELETE FROM kiln_batches WHERE id IN (
                        SELECT id FROM kiln_batches b WHERE state = 'done' AND ended_at < \(cutoff)
                            AND NOT EXISTS (SELECT 1 FROM ai_runs r WHERE r.batch_id = b.id)
                        LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                    """, logger: logger)
                return pruned
            }
        }
    }
}
