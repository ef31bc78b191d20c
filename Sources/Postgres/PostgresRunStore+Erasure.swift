import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// Right to erasure, and the provider's copies of finished runs' responses.
extension PostgresRunStore {
    public func erase(tenant: TenantID, subject: Subject?, actor: String, now: Date) async throws -> ErasureOutcome {
        try await perform("erase runs of tenant \(tenant)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> ErasureOutcome in
                var all = 0
                for try await count in try await connection.query(
                    """
                    SELECT count(*)::bigint FROM ai_runs WHERE tenant_id = \(tenant.rawValue) AND erased_at IS NULL
                        AND (\(subject?.type)::text IS NULL OR (subject_type = \(subject?.type) AND subject_id = \(subject?.id)))
                    """, logger: logger
                ).decode(Int.self) { all = count }
                let erased = try await connection.query(
                    """
                    WITH erased AS (
                        UPDATE ai_runs SET input = '{"erased": true}'::jsonb, output = NULL, reviewed_output = NULL, erased_at = \(now),
                            error = CASE WHEN error IS NULL THEN NULL ELSE jsonb_set(error, '{message}', '"erased"') END,
                            updated_at = \(now),
                            provider_delete_after = CASE WHEN response_id IS NOT NULL AND provider_deleted_at IS NULL THEN \(now)
                                ELSE provider_delete_after END
                        WHERE id IN (
                            SELECT r.id FROM ai_runs r WHERE r.tenant_id = \(tenant.rawValue) AND r.erased_at IS NULL
                                AND (\(subject?.type)::text IS NULL OR (r.subject_type = \(subject?.type) AND r.subject_id = \(subject?.id)))
                                AND r.status NOT IN ('queued', 'submitting', 'in_progress')
                                AND NOT EXISTS (SELECT 1 FROM ai_runs p WHERE p.id = r.parent_run_id
                                    AND p.status IN ('queued', 'submitting', 'in_progress'))
                            FOR UPDATE)
                        RETURNING id, status)
                    INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                    SELECT id, status, status, \(now), \(actor), 'erased', '{}'::jsonb FROM erased
                    RETURNING run_id
                    """, logger: logger
                ).collect().count
                try await connection.query(
                    """
                    UPDATE ai_run_events e SET details = e.details - 'audience' FROM ai_runs r
                    WHERE e.run_id = r.id AND e.kind = 'expanded' AND r.erased_at = \(now) AND r.tenant_id = \(tenant.rawValue)
                    """, logger: logger)
                return ErasureOutcome(erased: erased, stillRunning: all - erased)
            }
        }
    }

    public func claimProviderDeletions(afterFinalize: Bool, limit: Int, now: Date, leaseUntil: Date) async throws -> [ProviderDeletion] {
        try await perform("claim provider deletions") { [self] in
            try await client.withTransaction(logger: logger) { connection -> [ProviderDeletion] in
                // Each kind read from its own index, so a pass never walks the table.
                let due: PostgresQuery =
                    afterFinalize
                    ? """
                    SELECT id FROM ai_runs WHERE provider_deleted_at IS NULL AND response_id IS NOT NULL AND finalized_at IS NOT NULL
                        AND coalesce(provider_delete_after, finalized_at) <= \(now)
                    ORDER BY coalesce(provider_delete_after, finalized_at) LIMIT \(limit) FOR UPDATE SKIP LOCKED
                    """
                    : """
                    SELECT id FROM ai_runs WHERE provider_delete_after IS NOT NULL AND provider_deleted_at IS NULL
                        AND response_id IS NOT NULL AND provider_delete_after <= \(now) AND finalized_at IS NOT NULL
                    ORDER BY provider_delete_after LIMIT \(limit) FOR UPDATE SKIP LOCKED
                    """
                var ids: [String] = []
                for try await id in try await connection.query(due, logger: logger).decode(String.self) { ids.append(id) }
                guard !ids.isEmpty else { return [] }
                let rows = try await connection.query(
                    """
                    UPDATE ai_runs SET provider_delete_after = \(leaseUntil) WHERE id = ANY(\(ids))
                    RETURNING id, response_id, provider_delete_attempts
                    """, logger: logger)
                var claimed: [ProviderDeletion] = []
                for try await (id, response, attempts) in rows.decode((String, String, Int).self) {
                    claimed.append(ProviderDeletion(runID: RunID(id), responseID: ResponseID(response), attempts: attempts))
                }
                return claimed
            }
        }
    }

    public func recordProviderDeletion(_ run: RunID, deleted: Bool, retryAt: Date?, now: Date) async throws {
        _ = try await perform("record a provider deletion of run \(run)") { [self] in
            if deleted {
                try await client.query(
                    "UPDATE ai_runs SET provider_deleted_at = \(now), provider_delete_after = NULL WHERE id = \(run.rawValue)",
                    logger: logger)
            } else {
                try await client.query(
                    """
                    UPDATE ai_runs SET provider_delete_attempts = provider_delete_attempts + 1,
                        provider_delete_after = \(retryAt ?? DocumentTree.heldUntil) WHERE id = \(run.rawValue)
                    """, logger: logger)
            }
        }
    }
}
