import Foundation
import KilnDomain

/// Limits per tenant and feature, as the SQL stores apply them (``QuotaCheck``).
extension InMemoryRunStore {
    public func tenantQuotas(_ tenant: TenantID?) async throws -> [TenantID: QuotaLimits] {
        tables.withLock { tables in tables.quotas.filter { tenant == nil || $0.key == tenant } }
    }

    public func setTenantQuota(_ tenant: TenantID, _ limits: QuotaLimits?, now: Date) async throws {
        tables.withLock { tables in
            tables.quotas[tenant] = limits.flatMap { $0.isEmpty ? nil : $0 }
            for (id, run) in tables.runs
            where run.tenantID == tenant && run.status == .queued && run.waitReason != nil && run.availableAt > now {
                tables.runs[id]?.availableAt = now
            }
        }
    }

    static func claimAdmitted(
        _ candidates: [Run], admission: Admission, owner: String, leaseUntil: Date, now: Date, in tables: inout Tables
    ) -> [Run] {
        func feature(_ run: Run) -> String { run.parentRunID.flatMap { tables.runs[$0]?.feature } ?? run.feature }
        let features = candidates.map(feature)
        let overrides = Dictionary(uniqueKeysWithValues: tables.quotas.map { ($0.key.rawValue, $0.value) })
        let limits = QuotaCheck.limits(for: candidates, features: features, quotas: admission.quotas, overrides: overrides)
        let day = String(Timestamp.format(now).prefix(10))
        var usage: [QuotaCheck.Scope: QuotaUsage] = [:]
        for scope in QuotaCheck(limits: limits, usage: [:]).limitedScopes {
            func inScope(_ run: Run) -> Bool { scope.isTenant ? run.tenantID.rawValue == scope.name : feature(run) == scope.name }
            var used = QuotaUsage()
            for run in tables.runs.values
            where (run.status == .submitting || run.status == .inProgress) && !run.isTreeParent && inScope(run) {
                used.inFlight += 1
                used.reservedMicros += run.reservedCostMicros ?? 0
            }
            for row in tables.usage.values where (scope.isTenant ? row.tenantID.rawValue : row.feature) == scope.name {
                if row.day == day { used.spentTodayMicros += row.costMicros }
                if row.day.prefix(7) == day.prefix(7) { used.spentMonthMicros += row.costMicros }
            }
            usage[scope] = used
        }
        var check = QuotaCheck(limits: limits, usage: usage)
        let admitted = check.admit(candidates, features: features, assessments: candidates.map(admission.assess))
        var claimed: [Run] = []
        for (run, reservation) in admitted.claims {
            guard var update = ClaimKind.submission.update(claiming: run, owner: owner, leaseUntil: leaseUntil, now: now) else { continue }
            update.run.reservedCostMicros = reservation
            if write(update, to: &tables) { claimed.append(update.run) }
        }
        for (run, failure) in admitted.failures {
            if let update = RunUpdate.make(.fail(failure), on: run, at: now, actor: owner) { _ = write(update, to: &tables) }
        }
        let until = now.addingTimeInterval(admission.quotas.checkSeconds)
        for hold in admitted.holds {
            let details = hold.eventDetails(until: until)
            for (id, run) in tables.runs where run.status == .queued && run.availableAt <= now {
                guard (hold.scope.isTenant ? run.tenantID.rawValue : feature(run)) == hold.scope.name else { continue }
                if run.waitReason != hold.reason.rawValue {
                    append(
                        RunEvent(
                            runID: id, fromStatus: .queued, toStatus: .queued, at: now, actor: owner, kind: "held",
                            details: details),
                        to: &tables)
                }
                tables.runs[id]?.availableAt = until
                tables.runs[id]?.waitReason = hold.reason.rawValue
                tables.runs[id]?.updatedAt = now
            }
        }
        return claimed
    }
}
