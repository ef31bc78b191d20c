import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// Long documents' trees: children written with their parent's step, read without inputs,
/// released, cancelled and retried set-based (a parent may have a thousand children).
extension PostgresRunStore {
    public func insertChildren(_ children: [Run], parent update: RunUpdate) async throws -> Bool {
        try await perform("write \(children.count) children of run \(update.run.id)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Bool in
                guard try await Self.write(update, connection, logger: logger) else { return false }
                let actor = update.event?.actor ?? "kiln"
                for child in children {
                    try await connection.query(
                        """
                        INSERT INTO ai_runs (id, tenant_id, user_id, feature, subject_type, subject_id, input, policy, status,
                            available_at, created_at, updated_at, parent_run_id, chunk_index, level, char_start, char_end)
                        VALUES (\(child.id.rawValue), \(child.tenantID.rawValue), \(child.userID), \(child.feature),
                            \(child.subject?.type), \(child.subject?.id), \(child.input.jsonText)::jsonb, \(child.policy.jsonText)::jsonb,
                            \(child.status.rawValue), \(child.availableAt), \(child.createdAt), \(child.updatedAt),
                            \(child.parentRunID?.rawValue), \(child.chunkIndex), \(child.level), \(child.charStart), \(child.charEnd))
                        """, logger: logger)
                    try await Self.insertEvent(RunEvent.childEnqueued(child, actor: actor), connection, logger: logger)
                }
                return true
            }
        }
    }

    public func treeProgress(of parent: RunID) async throws -> TreeProgress {
        try await perform("read the tree of run \(parent)") { [self] in
            let rows = try await client.query(
                """
                SELECT level, status, (status = 'queued' AND available_at = \(DocumentTree.heldUntil)) AS held, count(*)::bigint
                FROM ai_runs WHERE parent_run_id = \(parent.rawValue) GROUP BY 1, 2, 3
                """, logger: logger)
            var counts: [TreeProgress.Count] = []
            for try await (level, status, held, count) in rows.decode((Int, String, Bool, Int).self) {
                guard let parsed = RunStatus(rawValue: status) else {
                    throw KilnError(.database, "a child of run \(parent) has an unknown status \"\(status.prefix(40))\"")
                }
                counts.append(TreeProgress.Count(level: level, status: parsed, held: held, count: count))
            }
            return TreeProgress(counts: counts)
        }
    }

    public func treeChildren(of parent: RunID, level: Int?) async throws -> [TreeChild] {
        try await perform("read the children of run \(parent)") { [self] in
            let rows = try await client.query(
                """
                SELECT id, level, chunk_index, status, char_start, char_end, output::text, error::text, usage::text, cost_micros,
                    orphan_cost_micros
                FROM ai_runs WHERE parent_run_id = \(parent.rawValue) AND (\(level)::integer IS NULL OR level = \(level))
                ORDER BY level, chunk_index
                """, logger: logger)
            var children: [TreeChild] = []
            for try await row in rows {
                let r = row.makeRandomAccess()
                var c = StoredTreeChildColumns()
                c.id = try r["id"].decode(String.self)
                c.level = try r["level"].decode(Int?.self)
                c.chunkIndex = try r["chunk_index"].decode(Int?.self)
                c.status = try r["status"].decode(String.self)
                c.charStart = try r["char_start"].decode(Int?.self)
                c.charEnd = try r["char_end"].decode(Int?.self)
                c.output = try r["output"].decode(String?.self)
                c.error = try r["error"].decode(String?.self)
                c.usage = try r["usage"].decode(String?.self)
                c.costMicros = try r["cost_micros"].decode(Int64?.self)
                c.orphanCostMicros = try r["orphan_cost_micros"].decode(Int64.self)
                children.append(try c.child())
            }
            return children
        }
    }

    public func releaseChildren(of parent: RunID, level: Int, count: Int, now: Date) async throws -> Int {
        guard count > 0 else { return 0 }
        return try await perform("release children of run \(parent)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Int in
                let rows = try await connection.query(
                    """
                    UPDATE ai_runs SET available_at = \(now), updated_at = \(now) WHERE id IN (
                        SELECT id FROM ai_runs WHERE parent_run_id = \(parent.rawValue) AND level = \(level) AND status = 'queued'
                            AND available_at = \(DocumentTree.heldUntil)
                        ORDER BY chunk_index LIMIT \(count) FOR UPDATE)
                    RETURNING id
                    """, logger: logger
                ).collect()
                if !rows.isEmpty { try await connection.query("SELECT pg_notify('kiln_runs', 'release')", logger: logger) }
                return rows.count
            }
        }
    }

    public func cancelChildren(
        of parent: RunID, inFlight: Bool, reason: String, actor: String, now: Date
    ) async throws -> TreeCancellation {
        let details = JSONValue.object(["reason": .string(reason)]).jsonText
        let failure = JSONText.encode(RunFailure(code: "cancelled", message: reason, source: .kiln))
        return try await perform("cancel children of run \(parent)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> TreeCancellation in
                let cancelled = try await connection.query(
                    """
                    WITH cancelled AS (
                        UPDATE ai_runs SET status = 'cancelled', error = \(failure)::jsonb, finalized_at = \(now), next_poll_at = NULL,
                            lease_owner = NULL, lease_expires_at = NULL, updated_at = \(now)
                        WHERE parent_run_id = \(parent.rawValue) AND status = 'queued' RETURNING id)
                    INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                    SELECT id, 'queued', 'cancelled', \(now), \(actor), 'cancelled', \(details)::jsonb FROM cancelled
                    RETURNING run_id
                    """, logger: logger
                ).collect().count
                guard inFlight else { return TreeCancellation(cancelled: cancelled, requested: 0) }
                let requested = try await connection.query(
                    """
                    WITH asked AS (
                        UPDATE ai_runs SET cancel_requested_at = \(now), updated_at = \(now),
                            next_poll_at = CASE WHEN status = 'in_progress' AND lease_owner IS NULL AND next_poll_at > \(now)
                                THEN \(now) ELSE next_poll_at END
                        WHERE parent_run_id = \(parent.rawValue) AND status IN ('submitting', 'in_progress')
                            AND cancel_requested_at IS NULL
                        RETURNING id, status)
                    INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                    SELECT id, status, status, \(now), \(actor), 'cancel_requested', \(details)::jsonb FROM asked
                    RETURNING run_id
                    """, logger: logger
                ).collect().count
                return TreeCancellation(cancelled: cancelled, requested: requested)
            }
        }
    }

    public func retryFailedChildren(of parent: RunID, tenant: TenantID, actor: String, now: Date) async throws -> (Run, Int)? {
        try await perform("retry the failed children of run \(parent)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> (Run, Int)? in
                guard
                    let run = try await Self.fetchWithoutInput(
                        connection, "WHERE id = \(parent.rawValue) AND tenant_id = \(tenant.rawValue) FOR UPDATE", logger: logger
                    ).first
                else { return nil }
                guard run.isTreeParent, let update = RunUpdate.make(.resumeTree, on: run, at: now, actor: actor) else {
                    throw KilnError(
                        .conflict, "run \(parent) is not a failed long-document parent (status \(run.status.rawValue)); nothing to retry")
                }
                guard try await Self.write(update, connection, logger: logger) else {
                    throw KilnError(.conflict, "run \(parent) changed while being retried")
                }
                let retried = try await connection.query(
                    """
                    WITH retried AS (
                        UPDATE ai_runs c SET status = 'queued', attempt = 0, response_id = NULL, provider_status = NULL,
                            output = NULL, error = NULL, usage = NULL,
                            orphan_cost_micros = c.orphan_cost_micros + coalesce(c.cost_micros, 0), cost_micros = NULL,
                            poll_count = 0, next_poll_at = NULL, available_at = \(DocumentTree.heldUntil), lease_owner = NULL,
                            lease_expires_at = NULL, cancel_requested_at = NULL, send_started_at = NULL, submitted_at = NULL,
                            provider_started_at = NULL, provider_completed_at = NULL, finalized_at = NULL, provider_deleted_at = NULL,
                            provider_delete_after = NULL, provider_delete_attempts = 0, batch_id = NULL, updated_at = \(now)
                        FROM ai_runs old
                        WHERE old.id = c.id AND c.parent_run_id = \(parent.rawValue) AND c.level = \(run.level)
                            AND c.status IN ('failed', 'timed_out', 'incomplete', 'cancelled')
                        RETURNING c.id, old.status AS previous, old.attempt)
                    INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                    SELECT id, previous, 'queued', \(now), \(actor), 'retried', jsonb_build_object('attempts', attempt) FROM retried
                    RETURNING run_id
                    """, logger: logger
                ).collect().count
                return (update.run, retried)
            }
        }
    }
}
