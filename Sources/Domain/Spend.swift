import Foundation

/// What a tenant spent on one feature and model in one UTC day: a row of `kiln_usage_daily`
/// (the `ai_spend_daily` view). Kept when runs are pruned; a long document's tokens and cost
/// count under its own feature.
public struct SpendRow: Sendable, Hashable, Encodable {
    /// `YYYY-MM-DD`, UTC, the day the runs ended.
    public var day: String
    public var tenantID: TenantID
    public var feature: String
    /// Empty when the runs' policy named no model (the configured default applied).
    public var model: String
    /// Runs the application made that ended that day (a long document's children not counted).
    public var runs: Int
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedInputTokens: Int
    public var reasoningTokens: Int
    public var costMicros: Int64

    public init(
        day: String, tenantID: TenantID, feature: String, model: String, runs: Int, inputTokens: Int, outputTokens: Int,
        cachedInputTokens: Int, reasoningTokens: Int, costMicros: Int64
    ) {
        self.day = day
        self.tenantID = tenantID
        self.feature = feature
        self.model = model
        self.runs = runs
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedInputTokens = cachedInputTokens
        self.reasoningTokens = reasoningTokens
        self.costMicros = costMicros
    }

    enum CodingKeys: String, CodingKey {
        case day
        case tenantID = "tenant_id"
        case feature, model, runs
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        case cachedInputTokens = "cached_input_tokens"
        case reasoningTokens = "reasoning_tokens"
        case costMicros = "cost_micros"
    }
}

/// Which spend to read: one tenant (or all), one feature (or all), from a UTC day on.
public struct SpendQuery: Sendable, Hashable {
    public var tenant: TenantID?
    public var feature: String?
    /// `YYYY-MM-DD`: rows of this day and later.
    public var sinceDay: String

    public init(tenant: TenantID? = nil, feature: String? = nil, since: Date) {
        self.tenant = tenant
        self.feature = feature
        self.sinceDay = String(Timestamp.format(since).prefix(10))
    }
}

extension Array where Element == SpendRow {
    /// The rows added up (runs, tokens, cost).
    public var total: (runs: Int, inputTokens: Int, outputTokens: Int, costMicros: Int64, cachedInputTokens: Int) {
        reduce((0, 0, 0, 0, 0)) {
            ($0.0 + $1.runs, $0.1 + $1.inputTokens, $0.2 + $1.outputTokens, $0.3 + $1.costMicros, $0.4 + $1.cachedInputTokens)
        }
    }
}

/// What the dashboard sums spend by.
public enum SpendDimension: String, Sendable, Hashable {
    case tenant
    case feature
}

/// One tenant's or feature's cost today, over 7 and over 30 days (UTC days, today included),
/// and its runs over 30 days, from `kiln_usage_daily`.
public struct SpendTotal: Sendable, Hashable {
    public var key: String
    public var todayMicros: Int64
    public var weekMicros: Int64
    public var monthMicros: Int64
    public var runs: Int

    public init(key: String, todayMicros: Int64, weekMicros: Int64, monthMicros: Int64, runs: Int) {
        self.key = key
        self.todayMicros = todayMicros
        self.weekMicros = weekMicros
        self.monthMicros = monthMicros
        self.runs = runs
    }

    /// `YYYY-MM-DD` of today, 6 and 29 days before (UTC).
    public static func days(_ now: Date) -> (today: String, week: String, month: String) {
        func day(_ offset: Double) -> String { String(Timestamp.format(now.addingTimeInterval(-offset * 86_400)).prefix(10)) }
        return (day(0), day(6), day(29))
    }
}
