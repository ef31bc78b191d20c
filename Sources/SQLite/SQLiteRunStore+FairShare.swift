import Foundation
import GRDB
import KilnDomain

/// Fair share between tenants for the submission claim (``FairShare``).
extension SQLiteRunStore {
    /// The ids of up to `limit` due queued runs, round-robin across tenants, starting after the
    /// tenant served last by this process; and the last tenant served now.
    static func fairShare(_ db: Database, now: String, limit: Int, after cursor: String?) throws -> (ids: [String], last: String?) {
        let after = try dueTenants(db, now: now, limit: limit, after: cursor)
        let wrapped = after.count < limit && cursor != nil ? try dueTenants(db, now: now, limit: limit, after: nil) : []
        let tenants = FairShare.rotation(after: after, wrapped: wrapped, limit: limit)
        var queues: [(head: String, ids: [String])] = []
        for tenant in tenants {
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, available_at FROM ai_runs WHERE status = 'queued' AND tenant_id = ? AND available_at <= ?
                    ORDER BY available_at, id LIMIT ?
                    """, arguments: [tenant, now, limit])
            if let head: String = rows.first?["available_at"] { queues.append((head, rows.map { $0["id"] })) }
        }
        queues.sort { $0.head < $1.head }
        return (FairShare.interleave(queues.map(\.ids), limit: limit), tenants.last)
    }

    /// Tenants with a due queued run, in tenant order, after `cursor`: a skip scan of
    /// `ai_runs_queued_tenant` that steps from tenant to tenant (one seek each, whatever their
    /// backlogs, held children or back-offs) and keeps those whose oldest queued run is due. The
    /// index is named: SQLite's planner would otherwise walk every queued row through `ai_runs_status`.
    static func dueTenants(_ db: Database, now: String, limit: Int, after cursor: String?) throws -> [String] {
        let index = "ai_runs INDEXED BY ai_runs_queued_tenant"
        let start =
            cursor == nil
            ? "SELECT min(tenant_id) FROM \(index) WHERE status = 'queued'"
            : "SELECT min(tenant_id) FROM \(index) WHERE status = 'queued' AND tenant_id > ?3"
        return try String.fetchAll(
            db,
            sql: """
                WITH RECURSIVE queued(tenant) AS (
                    SELECT (\(start))
                    UNION ALL
                    SELECT (SELECT min(tenant_id) FROM \(index) WHERE status = 'queued' AND tenant_id > queued.tenant)
                    FROM queued WHERE queued.tenant IS NOT NULL)
                SELECT tenant FROM queued WHERE tenant IS NOT NULL
                    AND (SELECT min(available_at) FROM \(index) WHERE status = 'queued' AND tenant_id = queued.tenant) <= ?1
                LIMIT ?2
                """, arguments: cursor.map { [now, limit, $0] } ?? [now, limit])
    }
}
