import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// Fair share between tenants for the submission claim (``FairShare``).
extension PostgresRunStore {
    /// Up to `limit` due queued runs, round-robin across tenants starting after the tenant this
    /// process served last, locked (`FOR UPDATE SKIP LOCKED`: another executor's claim skips
    /// them); and the last tenant served now.
    static func fairShare(
        _ connection: PostgresConnection, now: Date, limit: Int, after cursor: String?, logger: Logger
    ) async throws -> (runs: [Run], last: String?) {
        let after = try await dueTenants(connection, now: now, limit: limit, after: cursor, logger: logger)
        let wrapped =
            after.count < limit && cursor != nil ? try await dueTenants(connection, now: now, limit: limit, after: nil, logger: logger) : []
        let tenants = FairShare.rotation(after: after, wrapped: wrapped, limit: limit)
        guard !tenants.isEmpty else { return ([], nil) }
        var queues: [(head: Date, ids: [String])] = []
        for tenant in tenants {
            var ids: [String] = []
            var head: Date?
            let rows = try await connection.query(
                """
                SELECT id, available_at FROM ai_runs WHERE status = 'queued' AND tenant_id = \(tenant) AND available_at <= \(now)
                ORDER BY available_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """, logger: logger)
            for try await (id, at) in rows.decode((String, Date).self) {
                if head == nil { head = at }
                ids.append(id)
            }
            if let head { queues.append((head, ids)) }
        }
        queues.sort { $0.head < $1.head }
        let picked = FairShare.interleave(queues.map(\.ids), limit: limit)
        // Every candidate was locked as it was read (another executor's claim skips it and takes
        // the next ones), so two executors claiming at once never wait for or share a run.
        let locked = try await fetch(connection, "WHERE id = ANY(\(picked)) AND status = 'queued'", logger: logger)
        let order = Dictionary(uniqueKeysWithValues: picked.enumerated().map { ($1, $0) })
        return (locked.sorted { (order[$0.id.rawValue] ?? 0) < (order[$1.id.rawValue] ?? 0) }, tenants.last)
    }

    /// Tenants with a due queued run, in tenant order, after `cursor`: a skip scan of
    /// `ai_runs_queued_tenant` that steps from tenant to tenant (one seek each, whatever their
    /// backlogs, held children or back-offs) and keeps those whose oldest queued run is due.
    static func dueTenants(
        _ connection: PostgresConnection, now: Date, limit: Int, after cursor: String?, logger: Logger
    ) async throws -> [String] {
        let rows = try await connection.query(
            """
            WITH RECURSIVE queued(tenant) AS (
                SELECT (SELECT min(tenant_id) FROM ai_runs WHERE status = 'queued'
                    AND (\(cursor)::text IS NULL OR tenant_id > \(cursor)))
                UNION ALL
                SELECT (SELECT min(tenant_id) FROM ai_runs WHERE status = 'queued' AND tenant_id > queued.tenant)
                FROM queued WHERE queued.tenant IS NOT NULL)
            SELECT tenant FROM queued WHERE tenant IS NOT NULL
                AND (SELECT min(available_at) FROM ai_runs WHERE status = 'queued' AND tenant_id = queued.tenant) <= \(now)
            LIMIT \(limit)
            """, logger: logger)
        var tenants: [String] = []
        for try await tenant in rows.decode(String.self) { tenants.append(tenant) }
        return tenants
    }
}
