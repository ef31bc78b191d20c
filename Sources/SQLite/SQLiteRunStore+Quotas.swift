import Foundation
import GRDB
import KilnDomain

/// Limits per tenant and feature on the submission claim (``QuotaCheck``). The claim runs in
/// one write transaction, and SQLite has one writer: what a claim admits, the next one counts.
extension SQLiteRunStore {
    static func admit(_ candidates: [Run], _ db: Database, admission: Admission, now: Date) throws -> QuotaCheck.Admitted {
        let assessments = candidates.map(admission.assess)
        let overridden = try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM kiln_tenant_quotas)") ?? false
        guard admission.quotas.configured || overridden else {
            return QuotaCheck.Admitted(claimingAll: candidates, assessments: assessments)
        }
        let features = try billingFeatures(of: candidates, db)
        let limits = QuotaCheck.limits(
            for: candidates, features: features, quotas: admission.quotas,
            overrides: try tenantQuotas(db, tenants: Set(candidates.map(\.tenantID.rawValue))))
        var usage: [QuotaCheck.Scope: QuotaUsage] = [:]
        for scope in QuotaCheck(limits: limits, usage: [:]).limitedScopes { usage[scope] = try self.usage(of: scope, db, now: now) }
        var check = QuotaCheck(limits: limits, usage: usage)
        return check.admit(candidates, features: features, assessments: assessments)
    }

    /// Holds the due queued runs of the hold's scope until `until`, recording why; a `held`
    /// event on each run held for a new reason (not again on every recheck).
    static func apply(_ hold: QuotaCheck.Hold, _ db: Database, now: Date, until: Date, actor: String) throws {
        let scope: String
        switch hold.scope {
        case .tenant: scope = "r.tenant_id = ?"
        case .feature: scope = "coalesce((SELECT p.feature FROM ai_runs p WHERE p.id = r.parent_run_id), r.feature) = ?"
        }
        let nowText = Timestamp.format(now)
        try db.execute(
            sql: """
                INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                SELECT r.id, 'queued', 'queued', ?, ?, 'held', ? FROM ai_runs r
                WHERE r.status = 'queued' AND r.available_at <= ? AND \(scope) AND r.wait_reason IS NOT ?
                """, arguments: [nowText, actor, hold.eventDetails(until: until).jsonText, nowText, hold.scope.name, hold.reason.rawValue])
        try db.execute(
            sql: """
                UPDATE ai_runs AS r SET available_at = ?, wait_reason = ?, updated_at = ?
                WHERE r.status = 'queued' AND r.available_at <= ? AND \(scope)
                """, arguments: [Timestamp.format(until), hold.reason.rawValue, nowText, nowText, hold.scope.name])
    }

    /// The feature each run's cost counts under: a long document's child counts as its parent's feature.
    private static func billingFeatures(of runs: [Run], _ db: Database) throws -> [String] {
        let parents = Set(runs.compactMap(\.parentRunID?.rawValue))
        var parentFeature: [String: String] = [:]
        if !parents.isEmpty {
            let marks = Array(repeating: "?", count: parents.count).joined(separator: ",")
            for row in try Row.fetchAll(
                db, sql: "SELECT id, feature FROM ai_runs WHERE id IN (\(marks))", arguments: StatementArguments(Array(parents)))
            {
                parentFeature[row["id"]] = row["feature"]
            }
        }
        return runs.map { run in run.parentRunID.flatMap { parentFeature[$0.rawValue] } ?? run.feature }
    }

    /// What is committed in `scope`: runs at the provider (a tree parent is not; its children
    /// are) with their reservations, and what ended in the current UTC day and month.
    private static func usage(of scope: QuotaCheck.Scope, _ db: Database, now: Date) throws -> QuotaUsage {
        let day = String(Timestamp.format(now).prefix(10))
        let month = String(day.prefix(7)) + "-01"
        let inFlight: Row?
        let spent: Row?
        switch scope {
        case .tenant(let tenant):
            inFlight = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS n, coalesce(sum(reserved_cost_micros), 0) AS reserved
                    FROM ai_runs INDEXED BY ai_runs_in_flight_tenant
                    WHERE tenant_id = ? AND status IN ('submitting','in_progress') AND (parent_run_id IS NOT NULL OR level IS NULL)
                    """, arguments: [tenant])
            spent = try Row.fetchOne(
                db,
                sql: """
                    SELECT coalesce(sum(CASE WHEN day = ? THEN cost_micros ELSE 0 END), 0) AS today,
                        coalesce(sum(cost_micros), 0) AS month
                    FROM kiln_usage_daily WHERE tenant_id = ? AND day >= ?
                    """, arguments: [day, tenant, month])
        case .feature(let feature):
            inFlight = try Row.fetchOne(
                db,
                sql: """
                    SELECT count(*) AS n, coalesce(sum(r.reserved_cost_micros), 0) AS reserved FROM ai_runs r
                    WHERE r.status IN ('submitting','in_progress') AND (r.parent_run_id IS NOT NULL OR r.level IS NULL)
                        AND coalesce((SELECT p.feature FROM ai_runs p WHERE p.id = r.parent_run_id), r.feature) = ?
                    """, arguments: [feature])
            spent = try Row.fetchOne(
                db,
                sql: """
                    SELECT coalesce(sum(CASE WHEN day = ? THEN cost_micros ELSE 0 END), 0) AS today,
                        coalesce(sum(cost_micros), 0) AS month
                    FROM kiln_usage_daily WHERE feature = ? AND day >= ?
                    """, arguments: [day, feature, month])
        }
        return QuotaUsage(
            inFlight: inFlight?["n"] ?? 0, reservedMicros: inFlight?["reserved"] ?? 0, spentTodayMicros: spent?["today"] ?? 0,
            spentMonthMicros: spent?["month"] ?? 0)
    }

    private static func tenantQuotas(_ db: Database, tenants: Set<String>?) throws -> [String: QuotaLimits] {
        var sql = "SELECT tenant_id, max_in_flight, daily_cost_micros, monthly_cost_micros FROM kiln_tenant_quotas"
        var arguments: StatementArguments = []
        if let tenants {
            guard !tenants.isEmpty else { return [:] }
            sql += " WHERE tenant_id IN (\(Array(repeating: "?", count: tenants.count).joined(separator: ",")))"
            arguments = StatementArguments(Array(tenants))
        }
        var quotas: [String: QuotaLimits] = [:]
        for row in try Row.fetchAll(db, sql: sql, arguments: arguments) {
            quotas[row["tenant_id"]] = QuotaLimits(
                maxInFlight: row["max_in_flight"], dailyCostMicros: row["daily_cost_micros"], monthlyCostMicros: row["monthly_cost_micros"])
        }
        return quotas
    }

    public func tenantQuotas(_ tenant: TenantID?) async throws -> [TenantID: QuotaLimits] {
        try await perform("read tenant quotas") { [pool] in
            try await pool.read { db in
                let rows = try Self.tenantQuotas(db, tenants: tenant.map { [$0.rawValue] })
                return Dictionary(uniqueKeysWithValues: rows.map { (TenantID($0.key), $0.value) })
            }
        }
    }

    public func setTenantQuota(_ tenant: TenantID, _ limits: QuotaLimits?, now: Date) async throws {
        defer { localWrites.increment() }
        try await perform("set the quotas of tenant \(tenant)") { [pool] in
            try await pool.write { db in
                guard let limits, !limits.isEmpty else {
                    try db.execute(sql: "DELETE FROM kiln_tenant_quotas WHERE tenant_id = ?", arguments: [tenant.rawValue])
                    return
                }
                try db.execute(
                    sql: """
                        INSERT INTO kiln_tenant_quotas (tenant_id, max_in_flight, daily_cost_micros, monthly_cost_micros, updated_at)
                        VALUES (?, ?, ?, ?, ?)
                        ON CONFLICT (tenant_id) DO UPDATE SET max_in_flight = excluded.max_in_flight,
                            daily_cost_micros = excluded.daily_cost_micros, monthly_cost_micros = excluded.monthly_cost_micros,
                            updated_at = excluded.updated_at
                        """,
                    arguments: [
                        tenant.rawValue, limits.maxInFlight, limits.dailyCostMicros, limits.monthlyCostMicros, Timestamp.format(now),
                    ])
                // The tenant's held runs are looked at again now: a raised limit applies at once.
                try db.execute(
                    sql: """
                        UPDATE ai_runs SET available_at = ? WHERE status = 'queued' AND tenant_id = ? AND wait_reason IS NOT NULL
                            AND available_at > ?
                        """, arguments: [Timestamp.format(now), tenant.rawValue, Timestamp.format(now)])
            }
        }
    }
}
