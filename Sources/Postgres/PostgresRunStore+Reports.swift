import Foundation
import KilnDomain
import PostgresNIO

/// What the store reports rather than changes: counts, learned run times, the next due time.
extension PostgresRunStore {
    public func summary() async throws -> RunSummary {
        try await perform("summarize runs") { [self] in
            var counts: [String: Int] = [:]
            var childCounts: [String: Int] = [:]
            for try await (status, child, count) in try await client.query(
                "SELECT status, parent_run_id IS NOT NULL, count(*) FROM ai_runs GROUP BY 1, 2", logger: logger
            ).decode((String, Bool, Int).self) {
                if child { childCounts[status] = count } else { counts[status] = count }
            }
            var oldest: Date?
            var cost: Int64 = 0
            var duplicates = 0
            var orphanCost: Int64 = 0
            var orphans = 0
            for try await (first, total, dups, orphanTotal, orphanCount) in try await client.query(
                """
                SELECT (SELECT min(created_at) FROM ai_runs WHERE status = 'queued' AND parent_run_id IS NULL),
                       (SELECT coalesce(sum(cost_micros), 0)::bigint FROM ai_runs WHERE level IS NULL OR parent_run_id IS NOT NULL),
                       (SELECT count(*) FROM ai_run_events WHERE kind = 'possible_duplicate'),
                       (SELECT coalesce(sum(orphan_cost_micros), 0)::bigint FROM ai_runs),
                       (SELECT count(*) FROM ai_run_events WHERE kind = 'orphan_response')
                """, logger: logger
            ).decode((Date?, Int64, Int, Int64, Int).self) {
                (oldest, cost, duplicates, orphanCost, orphans) = (first, total, dups, orphanTotal, orphanCount)
            }
            var summary = RunSummary(
                counts: counts, oldestQueuedAt: oldest, inFlight: (counts["submitting"] ?? 0) + (counts["in_progress"] ?? 0),
                costMicros: cost + orphanCost, possibleDuplicates: duplicates, orphanResponses: orphans, orphanCostMicros: orphanCost)
            summary.childCounts = childCounts
            for try await (reason, count) in try await client.query(
                "SELECT wait_reason, count(*) FROM ai_runs WHERE status = 'queued' AND wait_reason IS NOT NULL GROUP BY 1",
                logger: logger
            ).decode((String, Int).self) {
                summary.waiting[reason] = count
            }
            for try await count in try await client.query(
                """
                SELECT count(*) FROM ai_runs WHERE provider_delete_after >= \(DocumentTree.heldUntil)
                    AND provider_deleted_at IS NULL AND response_id IS NOT NULL
                """, logger: logger
            ).decode(Int.self) {
                summary.providerDeletionsGivenUp = count
            }
            for try await at in try await client.query(
                "SELECT max(at) FROM ai_run_events WHERE kind = 'quota_exhausted'", logger: logger
            ).decode(Date?.self) {
                summary.quotaExhaustedAt = at
            }
            for try await (state, count) in try await client.query(
                "SELECT state, count(*)::bigint FROM kiln_batches WHERE state <> 'done' GROUP BY state", logger: logger
            ).decode((String, Int64).self) {
                summary.batches[state] = Int(count)
            }
            return summary
        }
    }

    public func recentRunDurations(feature: String, model: String, defaultModel: String, limit: Int) async throws -> [Double] {
        try await perform("read recent run times") { [self] in
            var durations: [Double] = []
            for try await seconds in try await client.query(
                """
                SELECT extract(epoch FROM provider_completed_at - submitted_at)::float8 FROM ai_runs
                WHERE status = 'completed' AND feature = \(feature) AND coalesce(policy->>'model', \(defaultModel)) = \(model)
                    AND (level IS NULL OR parent_run_id IS NOT NULL)
                  AND submitted_at IS NOT NULL AND provider_completed_at IS NOT NULL
                ORDER BY finalized_at DESC LIMIT \(limit)
                """, logger: logger
            ).decode(Double.self) {
                durations.append(seconds)
            }
            return durations
        }
    }

    public func nextDueDate() async throws -> Date? {
        try await perform("find the next due time") { [self] in
            var due: Date?
            for try await value in try await client.query(
                """
                SELECT least((SELECT min(available_at) FROM ai_runs WHERE status = 'queued'),
                             (SELECT min(next_poll_at) FROM ai_runs WHERE status = 'in_progress'),
                             (SELECT min(lease_expires_at) FROM ai_runs WHERE status = 'submitting'))
                """, logger: logger
            ).decode(Date?.self) {
                due = value
            }
            return due
        }
    }
}
