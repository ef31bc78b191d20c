import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// Webhook deliveries and what they lead to: runs made due (with a NOTIFY, so every
/// executor's poller hears it), orphan responses.
extension PostgresRunStore {
    public func recordWebhook(_ delivery: WebhookDelivery, now: Date) async throws -> WebhookReceipt {
        try await perform("record webhook delivery") { [self] in
            try await client.withTransaction(logger: logger) { connection -> WebhookReceipt in
                try await connection.query("DELETE FROM kiln_webhook_deliveries WHERE expires_at < \(now)", logger: logger)
                let inserted = try await connection.query(
                    """
                    INSERT INTO kiln_webhook_deliveries (webhook_id, event_type, response_id, received_at, expires_at)
                    VALUES (\(delivery.webhookID), \(delivery.eventType), \(delivery.responseID?.rawValue), \(delivery.receivedAt),
                        \(delivery.expiresAt))
                    ON CONFLICT (webhook_id) DO NOTHING RETURNING webhook_id
                    """, logger: logger
                ).collect()
                guard !inserted.isEmpty else { return .duplicate }
                guard let response = delivery.responseID else {
                    try await Self.handled(delivery.webhookID, now, connection, logger: logger)
                    return .ignored
                }
                if let id = try await Self.makeDue(response, now, connection, logger: logger) {
                    try await Self.handled(delivery.webhookID, now, connection, logger: logger)
                    return .madeDue(id)
                }
                try await Self.notify(connection, logger: logger)  // the pollers' webhook pass looks at it
                return .unmatched
            }
        }
    }

    public func claimUnmatchedWebhooks(owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [WebhookDelivery] {
        try await perform("claim unmatched webhook deliveries") { [self] in
            try await client.withTransaction(logger: logger) { connection -> [WebhookDelivery] in
                let rows = try await connection.query(
                    """
                    UPDATE kiln_webhook_deliveries SET claimed_by = \(owner), claim_expires_at = \(leaseUntil)
                    WHERE webhook_id IN (
                        SELECT webhook_id FROM kiln_webhook_deliveries
                        WHERE handled_at IS NULL AND (claim_expires_at IS NULL OR claim_expires_at <= \(now))
                        ORDER BY received_at LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                    RETURNING webhook_id, event_type, response_id, received_at, expires_at
                    """, logger: logger)
                var claimed: [WebhookDelivery] = []
                for try await (id, type, response, received, expires) in rows.decode((String, String, String?, Date, Date).self) {
                    claimed.append(
                        WebhookDelivery(
                            webhookID: id, eventType: type, responseID: response.map(ResponseID.init), receivedAt: received,
                            expiresAt: expires))
                }
                return claimed.sorted { $0.receivedAt < $1.receivedAt }
            }
        }
    }

    public func markWebhookHandled(_ webhookID: String, now: Date) async throws {
        try await perform("mark a webhook delivery handled") { [self] in
            try await client.withConnection { connection in
                try await Self.handled(webhookID, now, connection, logger: logger)
            }
        }
    }

    public func makeDue(response: ResponseID, now: Date) async throws -> RunID? {
        try await perform("make the run of \(response) due") { [self] in
            try await client.withTransaction(logger: logger) { connection in
                try await Self.makeDue(response, now, connection, logger: logger)
            }
        }
    }

    public func recordOrphan(_ orphan: OrphanResponse) async throws -> Bool {
        try await perform("record orphan response \(orphan.responseID) of run \(orphan.runID)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Bool in
                let locked = try await connection.query(
                    "SELECT id FROM ai_runs WHERE id = \(orphan.runID.rawValue) FOR UPDATE", logger: logger
                ).collect()
                guard !locked.isEmpty else { return false }
                let seen = try await connection.query(
                    """
                    SELECT 1 FROM ai_run_events WHERE run_id = \(orphan.runID.rawValue) AND kind = 'orphan_response'
                        AND details->>'response_id' = \(orphan.responseID.rawValue)
                    """, logger: logger
                ).collect()
                guard seen.isEmpty else { return false }
                try await connection.query(
                    """
                    UPDATE ai_runs SET orphan_cost_micros = orphan_cost_micros + \(orphan.costMicros), updated_at = \(orphan.at)
                    WHERE id = \(orphan.runID.rawValue)
                    """, logger: logger)
                try await Self.insertEvent(orphan.event, connection, logger: logger)
                return true
            }
        }
    }

    private static func handled(_ webhookID: String, _ now: Date, _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            "UPDATE kiln_webhook_deliveries SET handled_at = \(now) WHERE webhook_id = \(webhookID)", logger: logger)
    }

    /// The in-flight run holding `response`, due now. Nil also while a poll holds its lease:
    /// that poll may have seen the response still running and reschedule it far ahead, so
    /// the delivery stays unsettled and the poller's webhook pass nudges the run again later.
    private static func makeDue(
        _ response: ResponseID, _ now: Date, _ connection: PostgresConnection, logger: Logger
    ) async throws -> RunID? {
        let rows = try await connection.query(
            """
            SELECT id, lease_owner IS NOT NULL AND lease_expires_at > \(now) FROM ai_runs
            WHERE response_id = \(response.rawValue) AND status = 'in_progress' FOR UPDATE
            """, logger: logger)
        var found: (id: String, leased: Bool)?
        for try await (id, leased) in rows.decode((String, Bool).self) { found = (id, leased) }
        guard let found, !found.leased else { return nil }
        try await connection.query(
            "UPDATE ai_runs SET next_poll_at = \(now) WHERE id = \(found.id) AND (next_poll_at IS NULL OR next_poll_at > \(now))",
            logger: logger)
        try await notify(connection, logger: logger)
        return RunID(found.id)
    }

    /// Wakes every executor's poller (`LISTEN kiln_runs`).
    private static func notify(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_notify('kiln_runs', 'webhook')", logger: logger)
    }
}
