import Foundation
import GRDB
import KilnDomain

/// Right to erasure, and the provider's copies of finished runs' responses.
extension SQLiteRunStore {
    static let running = "('queued','submitting','in_progress')"

    public func erase(tenant: TenantID, subject: Subject?, actor: String, now: Date) async throws -> ErasureOutcome {
        defer { localWrites.increment() }
        let at = Timestamp.format(now)
        var scope = "r.tenant_id = ?"
        var arguments: StatementArguments = [tenant.rawValue]
        if let subject {
            scope += " AND r.subject_type = ? AND r.subject_id = ?"
            arguments += [subject.type, subject.id]
        }
        let finished = """
            \(scope) AND r.status NOT IN \(Self.running) AND r.erased_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM ai_runs p WHERE p.id = r.parent_run_id AND p.status IN \(Self.running))
            """
        let matched = scope
        let finishedArguments = arguments
        return try await perform("erase runs of tenant \(tenant)") { [pool] in
            try await pool.write { db in
                let all =
                    try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM ai_runs r WHERE \(matched) AND r.erased_at IS NULL", arguments: finishedArguments)
                    ?? 0
                try db.execute(
                    sql: """
                        UPDATE ai_run_events SET details = json_remove(details, '$.audience')
                        WHERE kind = 'expanded' AND run_id IN (SELECT r.id FROM ai_runs r WHERE \(finished))
                        """, arguments: finishedArguments)
                try db.execute(
                    sql: """
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        SELECT r.id, r.status, r.status, ?, ?, 'erased', '{}' FROM ai_runs r WHERE \(finished)
                        """, arguments: [at, actor] + finishedArguments)
                try db.execute(
                    sql: """
                        UPDATE ai_runs SET input = '{"erased":true}', output = NULL, reviewed_output = NULL, erased_at = ?,
                            error = CASE WHEN error IS NULL THEN NULL ELSE json_set(error, '$.message', 'erased') END,
                            updated_at = ?,
                            provider_delete_after = CASE WHEN response_id IS NOT NULL AND provider_deleted_at IS NULL THEN ?
                                ELSE provider_delete_after END
                        WHERE id IN (SELECT r.id FROM ai_runs r WHERE \(finished))
                        """, arguments: [at, at, at] + finishedArguments)
                let erased = db.changesCount
                return ErasureOutcome(erased: erased, stillRunning: all - erased)
            }
        }
    }

    public func claimProviderDeletions(afterFinalize: Bool, limit: Int, now: Date, leaseUntil: Date) async throws -> [ProviderDeletion] {
        // Every finished run not deleted yet, or (deletion after finalization off) only those an
        // erasure scheduled: each read from its own index, so a pass never walks the table.
        let due =
            afterFinalize
            ? """
            SELECT id, response_id, provider_delete_attempts FROM ai_runs
            WHERE provider_deleted_at IS NULL AND response_id IS NOT NULL AND finalized_at IS NOT NULL
                AND coalesce(provider_delete_after, finalized_at) <= ?
            ORDER BY coalesce(provider_delete_after, finalized_at) LIMIT ?
            """
            : """
            SELECT id, response_id, provider_delete_attempts FROM ai_runs INDEXED BY ai_runs_provider_delete_scheduled
            WHERE provider_delete_after IS NOT NULL AND provider_deleted_at IS NULL AND response_id IS NOT NULL
                AND provider_delete_after <= ? AND finalized_at IS NOT NULL
            ORDER BY provider_delete_after LIMIT ?
            """
        return try await perform("claim provider deletions") { [pool] in
            try await pool.write { db in
                let rows = try Row.fetchAll(db, sql: due, arguments: [Timestamp.format(now), limit])
                let due = rows.map { row in
                    ProviderDeletion(
                        runID: RunID(row["id"]), responseID: ResponseID(row["response_id"]), attempts: row["provider_delete_attempts"])
                }
                for deletion in due {
                    try db.execute(
                        sql: "UPDATE ai_runs SET provider_delete_after = ? WHERE id = ?",
                        arguments: [Timestamp.format(leaseUntil), deletion.runID.rawValue])
                }
                return due
            }
        }
    }

    public func recordProviderDeletion(_ run: RunID, deleted: Bool, retryAt: Date?, now: Date) async throws {
        try await perform("record a provider deletion of run \(run)") { [pool] in
            try await pool.write { db in
                if deleted {
                    try db.execute(
                        sql: "UPDATE ai_runs SET provider_deleted_at = ?, provider_delete_after = NULL WHERE id = ?",
                        arguments: [Timestamp.format(now), run.rawValue])
                } else {
                    try db.execute(
                        sql: """
                            UPDATE ai_runs SET provider_delete_attempts = provider_delete_attempts + 1, provider_delete_after = ?
                            WHERE id = ?
                            """, arguments: [Timestamp.format(retryAt ?? DocumentTree.heldUntil), run.rawValue])
                }
            }
        }
    }
}
