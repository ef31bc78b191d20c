import Foundation
import GRDB
import KilnDomain

/// Webhook deliveries and what they lead to: runs made due, orphan responses.
extension SQLiteRunStore {
    public func recordWebhook(_ delivery: WebhookDelivery, now: Date) async throws -> WebhookReceipt {
        defer { localWrites.increment() }
        return try await perform("record webhook delivery") { [pool] in
            try await pool.write { db -> WebhookReceipt in
                try db.execute(sql: "DELETE FROM kiln_webhook_deliveries WHERE expires_at < ?", arguments: [Self.text(now)])
                try db.execute(
                    sql: """
                        INSERT INTO kiln_webhook_deliveries (webhook_id, event_type, response_id, received_at, expires_at)
                        VALUES (?, ?, ?, ?, ?) ON CONFLICT (webhook_id) DO NOTHING
                        """,
                    arguments: [
                        delivery.webhookID, delivery.eventType, delivery.responseID?.rawValue, Self.text(delivery.receivedAt),
                        Self.text(delivery.expiresAt),
                    ])
                guard db.changesCount == 1 else { return .duplicate }
                guard let response = delivery.responseID else {
                    try Self.handled(delivery.webhookID, now, db)
                    return .ignored
                }
                if let id = try Self.makeDue(response, now, db) {
                    try Self.handled(delivery.webhookID, now, db)
                    return .madeDue(id)
                }
                return .unmatched
            }
        }
    }

    public func claimUnmatchedWebhooks(owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [WebhookDelivery] {
        try await perform("claim unmatched webhook deliveries") { [pool] in
            // Every poll pass asks; almost always there is nothing, and a read takes no write lock.
            let any = try await pool.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM kiln_webhook_deliveries WHERE handled_at IS NULL)") ?? false
            }
            guard any else { return [] }
            return try await pool.write { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM kiln_webhook_deliveries
                        WHERE handled_at IS NULL AND (claim_expires_at IS NULL OR claim_expires_at <= ?)
                        ORDER BY received_at LIMIT ?
                        """, arguments: [Self.text(now), limit])
                var claimed: [WebhookDelivery] = []
                for row in rows {
                    let id: String = row["webhook_id"]
                    try db.execute(
                        sql: "UPDATE kiln_webhook_deliveries SET claimed_by = ?, claim_expires_at = ? WHERE webhook_id = ?",
                        arguments: [owner, Self.text(leaseUntil), id])
                    let received = (row["received_at"] as String?).flatMap(Timestamp.parse) ?? now
                    claimed.append(
                        WebhookDelivery(
                            webhookID: id, eventType: row["event_type"], responseID: (row["response_id"] as String?).map(ResponseID.init),
                            receivedAt: received, expiresAt: (row["expires_at"] as String?).flatMap(Timestamp.parse)))
                }
                return claimed
            }
        }
    }

    public func markWebhookHandled(_ webhookID: String, now: Date) async throws {
        try await perform("mark a webhook delivery handled") { [pool] in
            try await pool.write { db in try Self.handled(webhookID, now, db) }
        }
    }

    public func makeDue(response: ResponseID, now: Date) async throws -> RunID? {
        defer { localWrites.increment() }
        return try await perform("make the run of \(response) due") { [pool] in
            try await pool.write { db in try Self.makeDue(response, now, db) }
        }
    }

    public func recordOrphan(_ orphan: OrphanResponse) async throws -> Bool {
        try await perform("record orphan response \(orphan.responseID) of run \(orphan.runID)") { [pool] in
            try await pool.write { db in
                let seen =
                    try Bool.fetchOne(
                        db,
                        sql: """
                            SELECT EXISTS (SELECT 1 FROM ai_run_events WHERE run_id = ? AND kind = 'orphan_response'
                                AND json_extract(details, '$.response_id') = ?)
                            """, arguments: [orphan.runID.rawValue, orphan.responseID.rawValue]) ?? false
                if seen { return false }
                try db.execute(
                    sql: "UPDATE ai_runs SET orphan_cost_micros = orphan_cost_micros + ?, updated_at = ? WHERE id = ?",
                    arguments: [orphan.costMicros, Self.text(orphan.at), orphan.runID.rawValue])
                guard db.changesCount == 1 else { return false }
                try Self.insertEvent(orphan.event, db)
                return true
            }
        }
    }

    private static func handled(_ webhookID: String, _ now: Date, _ db: Database) throws {
        try db.execute(
            sql: "UPDATE kiln_webhook_deliveries SET handled_at = ? WHERE webhook_id = ?", arguments: [text(now), webhookID])
    }

    /// The in-flight run holding `response`, due now. Nil also while a poll holds its lease:
    /// that poll may have seen the response still running and reschedule it far ahead, so
    /// the delivery stays unsettled and the poller's webhook pass nudges the run again later.
    private static func makeDue(_ response: ResponseID, _ now: Date, _ db: Database) throws -> RunID? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT id, lease_owner, lease_expires_at FROM ai_runs WHERE response_id = ? AND status = 'in_progress'",
                arguments: [response.rawValue])
        else { return nil }
        let id: String = row["id"]
        if (row["lease_owner"] as String?) != nil, let until = (row["lease_expires_at"] as String?), until > text(now) ?? "" {
            return nil
        }
        try db.execute(
            sql: "UPDATE ai_runs SET next_poll_at = ? WHERE id = ? AND (next_poll_at IS NULL OR next_poll_at > ?)",
            arguments: [text(now), id, text(now)])
        return RunID(id)
    }
}
