import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// Limits per tenant and feature on the submission claim (``QuotaCheck``). Claims that apply
/// limits take one transaction-level advisory lock before they read anything, so executors on
/// many machines admit one after another: what a claim admits, the next one counts.
extension PostgresRunStore {
    static let quotaLockKey: Int64 = 0x6B69_6C71

    /// Whether limits can apply (any configured, or any tenant's own); if so, the lock is taken.
    static func lockForQuotas(_ connection: PostgresConnection, admission: Admission, logger: Logger) async throws -> Bool {
        if !admission.quotas.configured {
            let rows = try await connection.query("SELECT EXISTS (SELECT 1 FROM kiln_tenant_quotas)", logger: logger)
            var any = false
            for try await exists in rows.decode(Bool.self) { any = exists }
            guard any else { return false }
        }
        try await connection.query("SELECT pg_advisory_xact_lock(\(quotaLockKey))", logger: logger)
        return true
    }

    /// The submission claim under limits: admitted runs claimed with their reservations, then
    /// over-budget failures, then the holds (after the claims, so no admitted run is held).
    static func claimAdmitted(
        _ candidates: [Run], _ connection: PostgresConnection, admission: Admission, owner: String, leaseUntil: Date, now: Date,
        logger: Logger
    ) async throws -> [Run] {
        let admitted = try await admit(candidates, connection, admission: admission, now: now, logger: logger)
        var claimed: [Run] = []
        for (run, reservation) in admitted.claims {
            guard var update = ClaimKind.submission.update(claiming: run, owner: owner, leaseUntil: leaseUntil, now: now) else { continue }
            update.run.reservedCostMicros = reservation
            if try await write(update, connection, logger: logger) { claimed.append(update.run) }
        }
        for (run, failure) in admitted.failures {
            if let update = RunUpdate.make(.fail(failure), on: run, at: now, actor: owner) {
                _ = try await write(update, connection, logger: logger)
            }
        }
        let until = now.addingTimeInterval(admission.quotas.checkSeconds)
        for hold in admitted.holds { try await apply(hold, connection, now: now, until: until, actor: owner, logger: logger) }
        return claimed
    }

    static func admit(
        _ candidates: [Run], _ connection: PostgresConnection, admission: Admission, now: Date, logger: Logger
    ) async throws -> QuotaCheck.Admitted {
        let assessments = candidates.map(admission.assess)
        let overrides = try await tenantQuotas(connection, tenants: Array(Set(candidates.map(\.tenantID.rawValue))), logger: logger)
        let features = try await billingFeatures(of: candidates, connection, logger: logger)
        let limits = QuotaCheck.limits(for: candidates, features: features, quotas: admission.quotas, overrides: overrides)
        var usage: [QuotaCheck.Scope: QuotaUsage] = [:]
        for scope in QuotaCheck(limits: limits, usage: [:]).limitedScopes {
            usage[scope] = try await self.usage(of: scope, connection, now: now, logger: logger)
        }
        var check = QuotaCheck(limits: limits, usage: usage)
        return check.admit(candidates, features: features, assessments: assessments)
    }

    /// Holds the due queued runs of the hold's scope until `until`, recording why; a `held`
    /// event on each run held for a new reason. Rows another claim has locked are skipped.
    static func apply(
        _ hold: QuotaCheck.Hold, _ connection: PostgresConnection, now: Date, until: Date, actor: String, logger: Logger
    ) async throws {
        let name = hold.scope.name
        let reason = hold.reason.rawValue
        let due: PostgresQuery =
            hold.scope.isTenant
            ? """
            SELECT id, wait_reason FROM ai_runs WHERE status = 'queued' AND tenant_id = \(name) AND available_at <= \(now)
            FOR UPDATE SKIP LOCKED
            """
            : """
            SELECT r.id, r.wait_reason FROM ai_runs r WHERE r.status = 'queued' AND r.available_at <= \(now)
                AND coalesce((SELECT p.feature FROM ai_runs p WHERE p.id = r.parent_run_id), r.feature) = \(name)
            FOR UPDATE OF r SKIP LOCKED
            """
        var ids: [String] = []
        var newlyHeld: [String] = []
        for try await (id, previous) in try await connection.query(due, logger: logger).decode((String, String?).self) {
            ids.append(id)
            if previous != reason { newlyHeld.append(id) }
        }
        guard !ids.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
            SELECT id, 'queued', 'queued', \(now), \(actor), 'held', \(hold.eventDetails(until: until).jsonText)::jsonb
            FROM unnest(\(newlyHeld)::text[]) AS id
            """, logger: logger)
        try await connection.query(
            "UPDATE ai_runs SET available_at = \(until), wait_reason = \(reason), updated_at = \(now) WHERE id = ANY(\(ids))",
            logger: logger)
    }

    /// The feature each run's cost counts under: a long document's child counts as its parent's feature.
    private static func billingFeatures(of runs: [Run], _ connection: PostgresConnection, logger: Logger) async throws -> [String] {
        let parents = Array(Set(runs.compactMap(\.parentRunID?.rawValue)))
        var parentFeature: [String: String] = [:]
        if !parents.isEmpty {
            let rows = try await connection.query("SELECT id, feature FROM ai_runs WHERE id = ANY(\(parents))", logger: logger)
            for try await (id, feature) in rows.decode((String, String).self) { parentFeature[id] = feature }
        }
        return runs.map { run in run.parentRunID.flatMap { parentFeature[$0.rawValue] } ?? run.feature }
    }

    /// What is committed in `scope`: runs at the provider (a tree parent is not; its children
    /// are) with their reservations, and what ended in the current UTC day and month.
    private static func usage(
        of scope: QuotaCheck.Scope, _ connection: PostgresConnection, now: Date, logger: Logger
    ) async throws -> QuotaUsage {
        let day = String(Timestamp.format(now).prefix(10))
        let month = String(day.prefix(7)) + "-01"
        let name = scope.name
        let inFlight: PostgresQuery
        let spent: PostgresQuery
        if scope.isTenant {
            inFlight = """
                SELECT count(*)::bigint, coalesce(sum(reserved_cost_micros), 0)::bigint FROM ai_runs
                WHERE tenant_id = \(name) AND status IN ('submitting', 'in_progress') AND (parent_run_id IS NOT NULL OR level IS NULL)
                """
            spent = """
                SELECT coalesce(sum(CASE WHEN day = \(day)::date THEN cost_micros ELSE 0 END), 0)::bigint,
                    coalesce(sum(cost_micros), 0)::bigint
                FROM kiln_usage_daily WHERE tenant_id = \(name) AND day >= \(month)::date
                """
        } else {
            inFlight = """
                SELECT count(*)::bigint, coalesce(sum(r.reserved_cost_micros), 0)::bigint FROM ai_runs r
                WHERE r.status IN ('submitting', 'in_progress') AND (r.parent_run_id IS NOT NULL OR r.level IS NULL)
                    AND coalesce((SELECT p.feature FROM ai_runs p WHERE p.id = r.parent_run_id), r.feature) = \(name)
                """
            spent = """
                SELECT coalesce(sum(CASE WHEN day = \(day)::date THEN cost_micros ELSE 0 END), 0)::bigint,
                    coalesce(sum(cost_micros), 0)::bigint
                FROM kiln_usage_daily WHERE feature = \(name) AND day >= \(month)::date
                """
        }
        var usage = QuotaUsage()
        for try await (count, reserved) in try await connection.query(inFlight, logger: logger).decode((Int64, Int64).self) {
            usage.inFlight = Int(count)
            usage.reservedMicros = reserved
        }
        for try await (today, month) in try await connection.query(spent, logger: logger).decode((Int64, Int64).self) {
            usage.spentTodayMicros = today
            usage.spentMonthMicros = month
        }
        return usage
    }

    private static func tenantQuotas(
        _ connection: PostgresConnection, tenants: [String]?, logger: Logger
    ) async throws -> [String: QuotaLimits] {
        let rows = try await connection.query(
            """
            SELECT tenant_id, max_in_flight, daily_cost_micros, monthly_cost_micros FROM kiln_tenant_quotas
            WHERE \(tenants == nil) OR tenant_id = ANY(\(tenants ?? []))
            """, logger: logger)
        var quotas: [String: QuotaLimits] = [:]
        for try await (tenant, inFlight, daily, monthly) in rows.decode((String, Int?, Int64?, Int64?).self) {
            quotas[tenant] = QuotaLimits(maxInFlight: inFlight, dailyCostMicros: daily, monthlyCostMicros: monthly)
        }
        return quotas
    }

    public func tenantQuotas(_ tenant: TenantID?) async throws -> [TenantID: QuotaLimits] {
        try await perform("read tenant quotas") { [self] in
            try await client.withConnection { connection in
                let rows = try await Self.tenantQuotas(connection, tenants: tenant.map { [$0.rawValue] }, logger: logger)
                return Dictionary(uniqueKeysWithValues: rows.map { (TenantID($0.key), $0.value) })
            }
        }
    }

    public func setTenantQuota(_ tenant: TenantID, _ limits: QuotaLimits?, now: Date) async throws {
        try await perform("set the quotas of tenant \(tenant)") { [self] in
            try await client.withTransaction(logger: logger) { connection in
                if let limits, !limits.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO kiln_tenant_quotas (tenant_id, max_in_flight, daily_cost_micros, monthly_cost_micros, updated_at)
                        VALUES (\(tenant.rawValue), \(limits.maxInFlight), \(limits.dailyCostMicros), \(limits.monthlyCostMicros), \(now))
                        ON CONFLICT (tenant_id) DO UPDATE SET max_in_flight = excluded.max_in_flight,
                            daily_cost_micros = excluded.daily_cost_micros, monthly_cost_micros = excluded.monthly_cost_micros,
                            updated_at = excluded.updated_at
                        """, logger: logger)
                } else {
                    try await connection.query("DELETE FROM kiln_tenant_quotas WHERE tenant_id = \(tenant.rawValue)", logger: logger)
                }
                // The tenant's held runs are looked at again now: a raised limit applies at once.
                try await connection.query(
                    """
                    UPDATE ai_runs SET available_at = \(now) WHERE status = 'queued' AND tenant_id = \(tenant.rawValue)
                        AND wait_reason IS NOT NULL AND available_at > \(now)
                    """, logger: logger)
                try await connection.query("SELECT pg_notify('kiln_runs', 'quota')", logger: logger)
            }
        }
    }
}
