import Foundation

/// Limits on one scope — a tenant, or a feature across tenants: runs at the provider at once,
/// and cost per UTC day and calendar month (UTC). Nil: no limit.
public struct QuotaLimits: Sendable, Hashable {
    public var maxInFlight: Int?
    public var dailyCostMicros: Int64?
    public var monthlyCostMicros: Int64?

    public init(maxInFlight: Int? = nil, dailyCostMicros: Int64? = nil, monthlyCostMicros: Int64? = nil) {
        self.maxInFlight = maxInFlight
        self.dailyCostMicros = dailyCostMicros
        self.monthlyCostMicros = monthlyCostMicros
    }

    public var isEmpty: Bool { maxInFlight == nil && dailyCostMicros == nil && monthlyCostMicros == nil }

    /// These limits with each value `override` sets (a tenant's row of `kiln_tenant_quotas`).
    public func overridden(by override: QuotaLimits?) -> QuotaLimits {
        guard let override else { return self }
        return QuotaLimits(
            maxInFlight: override.maxInFlight ?? maxInFlight, dailyCostMicros: override.dailyCostMicros ?? dailyCostMicros,
            monthlyCostMicros: override.monthlyCostMicros ?? monthlyCostMicros)
    }

    /// Refuses a negative value, naming `key`.
    public func validate(_ key: String) throws(KilnError) {
        if let limit = maxInFlight, limit < 0 { throw KilnError(.invalidConfiguration, "\(key).max_in_flight must be ≥ 0, got \(limit)") }
        if let cap = dailyCostMicros, cap < 0 {
            throw KilnError(.invalidConfiguration, "\(key).daily_cost_micros must be ≥ 0, got \(cap)")
        }
        if let cap = monthlyCostMicros, cap < 0 {
            throw KilnError(.invalidConfiguration, "\(key).monthly_cost_micros must be ≥ 0, got \(cap)")
        }
    }
}

/// The `quotas` section: limits every tenant gets (a tenant's row of `kiln_tenant_quotas`
/// overrides them), limits per feature (across tenants), and how often held runs are looked at again.
public struct QuotaSettings: Sendable {
    public var tenant = QuotaLimits()
    public var features: [String: QuotaLimits] = [:]
    /// A run held by a limit is due again this many seconds later.
    public var checkSeconds = 10.0

    public init() {}

    /// Whether any limit is configured (a tenant override can still apply without one).
    public var configured: Bool { !tenant.isEmpty || features.values.contains { !$0.isEmpty } }

    public func validate() throws(KilnError) {
        try tenant.validate("quotas.tenant")
        for (name, limits) in features { try limits.validate("quotas.features.\(name)") }
        if !(checkSeconds >= 1 && checkSeconds <= 3600) {
            throw KilnError(.invalidConfiguration, "quotas.check_seconds must be in 1...3600, got \(checkSeconds)")
        }
    }
}

/// Why a queued run waits (the `wait_reason` column): the limit that held it last.
public enum WaitReason: String, Sendable, Hashable, CaseIterable {
    case tenantInFlight = "tenant_in_flight"
    case featureInFlight = "feature_in_flight"
    case tenantDailyCost = "tenant_daily_cost"
    case tenantMonthlyCost = "tenant_monthly_cost"
    case featureDailyCost = "feature_daily_cost"
    case featureMonthlyCost = "feature_monthly_cost"

    /// Whether it is a cost cap (a run's `over_budget` policy applies) rather than an in-flight limit.
    public var isCostCap: Bool { self != .tenantInFlight && self != .featureInFlight }

    public var onTenant: Bool { self == .tenantInFlight || self == .tenantDailyCost || self == .tenantMonthlyCost }
}

/// What a run does when a cost cap would be exceeded (`policy.over_budget`).
public enum OverBudget: String, Sendable, Hashable, Codable, CaseIterable {
    /// Stay `queued` (with a `held` event) until the window rolls or the cap is raised.
    case wait
    /// End `failed` with `over_budget`.
    case fail
}

/// What is committed in one scope: runs at the provider now (with the most each may cost)
/// and what ended in the current day and month.
public struct QuotaUsage: Sendable, Hashable {
    public var inFlight: Int
    public var reservedMicros: Int64
    public var spentTodayMicros: Int64
    public var spentMonthMicros: Int64

    public init(inFlight: Int = 0, reservedMicros: Int64 = 0, spentTodayMicros: Int64 = 0, spentMonthMicros: Int64 = 0) {
        self.inFlight = inFlight
        self.reservedMicros = reservedMicros
        self.spentTodayMicros = spentTodayMicros
        self.spentMonthMicros = spentMonthMicros
    }
}

/// How the submitter sees a run about to be claimed: the most its next attempt can cost and its
/// over-budget policy; `exempt` when it will not reach the provider (cancel asked, deadline past,
/// invalid, a long document to cut), so no limit holds it back from being settled.
public struct Assessment: Sendable, Hashable {
    public var reservationMicros: Int64
    public var overBudget: OverBudget
    public var exempt: Bool

    public init(reservationMicros: Int64, overBudget: OverBudget = .wait, exempt: Bool = false) {
        self.reservationMicros = reservationMicros
        self.overBudget = overBudget
        self.exempt = exempt
    }
}

/// What the submitter passes to a submission claim: the limits, and how to assess a run.
public struct Admission: Sendable {
    public var quotas: QuotaSettings
    public var assess: @Sendable (Run) -> Assessment

    public init(quotas: QuotaSettings, assess: @escaping @Sendable (Run) -> Assessment) {
        self.quotas = quotas
        self.assess = assess
    }
}
