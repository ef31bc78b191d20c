import Foundation
import GRDB
import KilnDomain

/// Long documents' trees: children written with their parent's step, read without inputs,
/// released, cancelled and retried set-based (a parent may have a thousand children).
extension SQLiteRunStore {
    static let unsuccessful = "('failed','timed_out','incomplete','cancelled')"

    public func insertChildren(_ children: [Run], parent update: RunUpdate) async throws -> Bool {
        defer { localWrites.increment() }
        return try await perform("write \(children.count) children of run \(update.run.id)") { [pool] in
            try await pool.write { db -> Bool in
                guard try Self.write(update, db) else { return false }
                for child in children {
                    try Self.insertRow(child, db)
                    try Self.insertEvent(RunEvent.childEnqueued(child, actor: update.event?.actor ?? "kiln"), db)
                }
                return true
            }
        }
    }

    public func treeProgress(of parent: RunID) async throws -> TreeProgress {
        let held = Self.text(DocumentTree.heldUntil)
        return try await perform("read the tree of run \(parent)") { [pool] in
            try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT level, status, available_at = ? AND status = 'queued' AS held, count(*) AS n FROM ai_runs
                        WHERE parent_run_id = ? GROUP BY level, status, held
                        """, arguments: [held, parent.rawValue])
                return TreeProgress(
                    counts: try rows.map { row in
                        let status: String = row["status"]
                        guard let parsed = RunStatus(rawValue: status) else {
                            throw KilnError(.database, "a child of run \(parent) has an unknown status \"\(status.prefix(40))\"")
                        }
                        return TreeProgress.Count(level: row["level"], status: parsed, held: row["held"], count: row["n"])
                    })
            }
        }
    }

    public func treeChildren(of parent: RunID, level: Int?) async throws -> [TreeChild] {
        try await perform("read the children of run \(parent)") { [pool] in
            try await pool.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT id, level, chunk_index, status, char_start, char_end, output, error, usage, cost_micros,
                            orphan_cost_micros
                        FROM ai_runs WHERE parent_run_id = ? AND (? IS NULL OR level = ?) ORDER BY level, chunk_index
                        """, arguments: [parent.rawValue, level, level])
                return try rows.map { row in
                    var c = StoredTreeChildColumns()
                    c.id = row["id"]
                    c.level = row["level"]
                    c.chunkIndex = row["chunk_index"]
                    c.status = row["status"]
                    c.charStart = row["char_start"]
                    c.charEnd = row["char_end"]
                    c.output = row["output"]
                    c.error = row["error"]
                    c.usage = row["usage"]
                    c.costMicros = row["cost_micros"]
                    c.orphanCostMicros = row["orphan_cost_micros"]
                    return try c.child()
                }
            }
        }
    }

    public func releaseChildren(of parent: RunID, level: Int, count: Int, now: Date) async throws -> Int {
        guard count > 0 else { return 0 }
        defer { localWrites.increment() }
        let held = Self.text(DocumentTree.heldUntil)
        return try await perform("release children of run \(parent)") { [pool] in
            try await pool.write { db in
                try db.execute(
                    sql: """
                        UPDATE ai_runs SET available_at = ?, updated_at = ? WHERE id IN (
                            SELECT id FROM ai_runs WHERE parent_run_id = ? AND level = ? AND status = 'queued' AND available_at = ?
                            ORDER BY chunk_index LIMIT ?)
                        """, arguments: [Self.text(now), Self.text(now), parent.rawValue, level, held, count])
                return db.changesCount
            }
        }
    }

    public func cancelChildren(
        of parent: RunID, inFlight: Bool, reason: String, actor: String, now: Date
    ) async throws -> TreeCancellation {
        defer { localWrites.increment() }
        let at = Self.text(now)
        return try await perform("cancel children of run \(parent)") { [pool] in
            try await pool.write { db in
                let details = JSONValue.object(["reason": .string(reason)]).jsonText
                let failure = JSONText.encode(RunFailure(code: "cancelled", message: reason, source: .kiln))
                try db.execute(
                    sql: """
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        SELECT id, 'queued', 'cancelled', ?, ?, 'cancelled', ? FROM ai_runs
                        WHERE parent_run_id = ? AND status = 'queued'
                        """, arguments: [at, actor, details, parent.rawValue])
                try db.execute(
                    sql: """
                        UPDATE ai_runs SET status = 'cancelled', error = ?, finalized_at = ?, next_poll_at = NULL,
                            lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
                        WHERE parent_run_id = ? AND status = 'queued'
                        """, arguments: [failure, at, at, parent.rawValue])
                let cancelled = db.changesCount
                guard inFlight else { return TreeCancellation(cancelled: cancelled, requested: 0) }
                try db.execute(
                    sql: """
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        SELECT id, status, status, ?, ?, 'cancel_requested', ? FROM ai_runs
                        WHERE parent_run_id = ? AND status IN ('submitting','in_progress') AND cancel_requested_at IS NULL
                        """, arguments: [at, actor, details, parent.rawValue])
                try db.execute(
                    sql: """
                        UPDATE ai_runs SET cancel_requested_at = ?, updated_at = ?,
                            next_poll_at = CASE WHEN status = 'in_progress' AND lease_owner IS NULL AND next_poll_at > ?
                                THEN ? ELSE next_poll_at END
                        WHERE parent_run_id = ? AND status IN ('submitting','in_progress') AND cancel_requested_at IS NULL
                        """, arguments: [at, at, at, at, parent.rawValue])
                return TreeCancellation(cancelled: cancelled, requested: db.changesCount)
            }
        }
    }

    public func retryFailedChildren(of parent: RunID, tenant: TenantID, actor: String, now: Date) async throws -> (Run, Int)? {
        defer { localWrites.increment() }
        let at = Self.text(now)
        let held = Self.text(DocumentTree.heldUntil)
        return try await perform("retry the failed children of run \(parent)") { [pool] in
            try await pool.write { db -> (Run, Int)? in
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT \(Self.columnsWithoutInput) FROM ai_runs WHERE id = ? AND tenant_id = ?",
                        arguments: [parent.rawValue, tenant.rawValue])
                else { return nil }
                let run = try Self.decodeRun(row)
                guard run.isTreeParent, let update = RunUpdate.make(.resumeTree, on: run, at: now, actor: actor) else {
                    throw KilnError(
                        .conflict, "run \(parent) is not a failed long-document parent (status \(run.status.rawValue)); nothing to retry")
                }
                guard try Self.write(update, db) else { throw KilnError(.conflict, "run \(parent) changed while being retried") }
                try db.execute(
                    sql: """
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        SELECT id, status, 'queued', ?, ?, 'retried', json_object('attempts', attempt) FROM ai_runs
                        WHERE parent_run_id = ? AND level = ? AND status IN \(Self.unsuccessful)
                        """, arguments: [at, actor, parent.rawValue, run.level])
                try db.execute(
                    sql: """
                        UPDATE ai_runs SET status = 'queued', attempt = 0, response_id = NULL, provider_status = NULL,
                            output = NULL, error = NULL, usage = NULL,
                            orphan_cost_micros = orphan_cost_micros + coalesce(cost_micros, 0), cost_micros = NULL,
                            poll_count = 0, next_poll_at = NULL, available_at = ?, lease_owner = NULL, lease_expires_at = NULL,
                            cancel_requested_at = NULL, send_started_at = NULL, submitted_at = NULL, provider_started_at = NULL,
                            provider_completed_at = NULL, finalized_at = NULL, provider_deleted_at = NULL,
                            provider_delete_after = NULL, provider_delete_attempts = 0, batch_id = NULL, updated_at = ?
                        WHERE parent_run_id = ? AND level = ? AND status IN \(Self.unsuccessful)
                        """, arguments: [held, at, parent.rawValue, run.level])
                return (update.run, db.changesCount)
            }
        }
    }
}
