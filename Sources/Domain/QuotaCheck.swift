import Foundation

/// The admission decision of one submission claim: which due runs may go to the provider now
/// under the tenants' and features' limits (``QuotaSettings``), which wait, and which fail.
///
/// A store reads what is committed in each scope the candidates touch (runs in flight with
/// their reservations, spend of the day and month), then asks ``decide(tenant:feature:assessment:)``
/// for each candidate in claim order; an admitted run adds its reservation, so the next
/// candidate sees it. Claims that apply limits are serialized (SQLite's write lock, a PostgreSQL
/// advisory lock), so what one claim admits the next one counts: a cost cap is exceeded only by
/// what a reservation could not foresee.
public struct QuotaCheck: Sendable {
    public enum Scope: Sendable, Hashable {
        case tenant(String)
        case feature(String)
    }

    /// A limit that holds a scope's queued runs back.
    public struct Hold: Sendable, Hashable {
        public var scope: Scope
        public var reason: WaitReason
        /// The numbers behind it, for the `held` event.
        public var details: [String: JSONValue]
    }

    public enum Verdict: Sendable, Hashable {
        case admit(reservationMicros: Int64)
        case hold(Hold)
        case fail(RunFailure)
    }

    /// What a submission claim does with its candidates: claim (with a reservation), fail, or
    /// hold the scopes named.
    public struct Admitted: Sendable {
        public var claims: [(run: Run, reservationMicros: Int64)] = []
        public var failures: [(run: Run, failure: RunFailure)] = []
        public var holds: [Hold] = []

        public init() {}

        /// Every candidate claimed with its reservation (no limit applies).
        public init(claimingAll candidates: [Run], assessments: [Assessment]) {
            claims = zip(candidates, assessments).map { ($0, $1.exempt ? 0 : $1.reservationMicros) }
        }
    }

    /// The limits over `candidates` (their billing `features`, in the same order): each tenant's
    /// (the configured ones with its own `overrides` applied) and each feature's.
    public static func limits(
        for candidates: [Run], features: [String], quotas: QuotaSettings, overrides: [String: QuotaLimits]
    ) -> [Scope: QuotaLimits] {
        var limits: [Scope: QuotaLimits] = [:]
        for run in candidates {
            let tenant = run.tenantID.rawValue
            limits[.tenant(tenant)] = quotas.tenant.overridden(by: overrides[tenant])
        }
        for feature in Set(features) { limits[.feature(feature)] = quotas.features[feature] }
        return limits
    }

    /// The verdict on every candidate, in claim order (``decide(tenant:feature:assessment:)``).
    public mutating func admit(_ candidates: [Run], features: [String], assessments: [Assessment]) -> Admitted {
        var admitted = Admitted()
        for (index, run) in candidates.enumerated() {
            switch decide(tenant: run.tenantID.rawValue, feature: features[index], assessment: assessments[index]) {
            case .admit(let reservation): admitted.claims.append((run, reservation))
            case .fail(let failure): admitted.failures.append((run, failure))
            case .hold(let hold): if !admitted.holds.contains(hold) { admitted.holds.append(hold) }
            }
        }
        return admitted
    }

    private let limits: [Scope: QuotaLimits]
    private var usage: [Scope: QuotaUsage]
    private var held: [Scope: Hold] = [:]

    public init(limits: [Scope: QuotaLimits], usage: [Scope: QuotaUsage]) {
        self.limits = limits.filter { !$0.value.isEmpty }
        self.usage = usage
    }

    /// The scopes with a limit: those whose usage a store must read.
    public var limitedScopes: [Scope] { Array(limits.keys) }

    /// The verdict on the next candidate. Once a limit holds a scope, its later candidates wait
    /// too (first in, first out within the scope), except that a cost cap fails, rather than
    /// holds, a run whose policy says `over_budget: fail`.
    public mutating func decide(tenant: String, feature: String, assessment: Assessment) -> Verdict {
        if assessment.exempt { return .admit(reservationMicros: 0) }
        let scopes = [Scope.tenant(tenant), .feature(feature)]
        for scope in scopes {
            guard let hold = held[scope] else { continue }
            if hold.reason.isCostCap, assessment.overBudget == .fail { return .fail(failure(hold)) }
            return .hold(hold)
        }
        let reservation = assessment.reservationMicros
        for scope in scopes {
            guard let limit = limits[scope] else { continue }
            let used = usage[scope] ?? QuotaUsage()
            var hold: Hold?
            if let max = limit.maxInFlight, used.inFlight >= max {
                hold = Hold(
                    scope: scope, reason: scope.isTenant ? .tenantInFlight : .featureInFlight,
                    details: ["limit": .number(Double(max)), "in_flight": .number(Double(used.inFlight))])
            } else if let cap = limit.dailyCostMicros, used.spentTodayMicros + used.reservedMicros + reservation > cap {
                hold = costHold(scope, scope.isTenant ? .tenantDailyCost : .featureDailyCost, cap, used.spentTodayMicros, used, reservation)
            } else if let cap = limit.monthlyCostMicros, used.spentMonthMicros + used.reservedMicros + reservation > cap {
                hold = costHold(
                    scope, scope.isTenant ? .tenantMonthlyCost : .featureMonthlyCost, cap, used.spentMonthMicros, used, reservation)
            }
            guard let hold else { continue }
            if hold.reason.isCostCap, assessment.overBudget == .fail { return .fail(failure(hold)) }
            held[scope] = hold
            return .hold(hold)
        }
        for scope in scopes where limits[scope] != nil {
            usage[scope, default: QuotaUsage()].inFlight += 1
            usage[scope, default: QuotaUsage()].reservedMicros += reservation
        }
        return .admit(reservationMicros: reservation)
    }

    private func costHold(
        _ scope: Scope, _ reason: WaitReason, _ cap: Int64, _ spent: Int64, _ used: QuotaUsage, _ reservation: Int64
    ) -> Hold {
        Hold(
            scope: scope, reason: reason,
            details: [
                "cap_micros": .number(Double(cap)), "spent_micros": .number(Double(spent)),
                "reserved_micros": .number(Double(used.reservedMicros)), "reservation_micros": .number(Double(reservation)),
            ])
    }

    private func failure(_ hold: Hold) -> RunFailure {
        RunFailure(code: KilnError.Code.overBudget.rawValue, message: hold.sentence, source: .policy)
    }
}

extension QuotaCheck.Scope {
    public var isTenant: Bool {
        if case .tenant = self { return true }
        return false
    }

    public var name: String {
        switch self {
        case .tenant(let name), .feature(let name): name
        }
    }

    /// `tenant acme`, `feature document_summary`.
    public var description: String { "\(isTenant ? "tenant" : "feature") \(name)" }
}

extension QuotaCheck.Hold {
    /// The `held` event's details: the numbers, the reason, the scope, and until when.
    public func eventDetails(until: Date) -> JSONValue {
        var object = details
        object["reason"] = .string(reason.rawValue)
        object[scope.isTenant ? "tenant" : "feature"] = .string(scope.name)
        object["until"] = .string(Timestamp.format(until))
        return .object(object)
    }

    /// The hold a `held` event recorded.
    public init?(event: RunEvent) {
        guard event.kind == "held", let details = event.details.objectValue,
            let reason = details["reason"]?.stringValue.flatMap(WaitReason.init(rawValue:))
        else { return nil }
        let name = (reason.onTenant ? details["tenant"] : details["feature"])?.stringValue ?? "?"
        self.init(scope: reason.onTenant ? .tenant(name) : .feature(name), reason: reason, details: details)
    }

    /// What the hold means, in a sentence for `kiln show`, a log line or an `over_budget` error.
    public var sentence: String {
        func number(_ key: String) -> Double { Double(details[key]?.intValue ?? 0) }
        func dollars(_ key: String) -> String { String(format: "$%.6f", number(key) / 1_000_000) }
        switch reason {
        case .tenantInFlight, .featureInFlight:
            return "\(scope.description) is at its limit of \(Int(number("limit"))) runs in flight"
        case .tenantDailyCost, .featureDailyCost, .tenantMonthlyCost, .featureMonthlyCost:
            let window = reason == .tenantDailyCost || reason == .featureDailyCost ? "daily" : "monthly"
            return
                "\(scope.description)'s \(window) cost cap of \(dollars("cap_micros")) would be exceeded: \(dollars("spent_micros")) "
                + "spent, \(dollars("reserved_micros")) reserved by runs in flight, this run up to \(dollars("reservation_micros"))"
        }
    }
}
