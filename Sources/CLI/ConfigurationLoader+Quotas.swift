import KilnDomain

extension ConfigurationLoader {
    /// The `quotas` section: limits every tenant gets, limits per feature, and the recheck period.
    static let quotaKeys: [Key] = [
        Key(name: "quotas.tenant_max_in_flight", help: "runs of one tenant at the provider at once; null: no limit") { c, v in
            c.quotas.tenant.maxInFlight = v == .null ? nil : try Parse.int(v)
        },
        Key(name: "quotas.tenant_daily_cost_micros", help: "what one tenant may spend per UTC day; null: no cap") { c, v in
            c.quotas.tenant.dailyCostMicros = v == .null ? nil : Int64(try Parse.int(v))
        },
        Key(name: "quotas.tenant_monthly_cost_micros", help: "what one tenant may spend per calendar month (UTC); null: no cap") {
            c, v in
            c.quotas.tenant.monthlyCostMicros = v == .null ? nil : Int64(try Parse.int(v))
        },
        Key(name: "quotas.features", help: "feature → {max_in_flight, daily_cost_micros, monthly_cost_micros}, across tenants") {
            c, v in
            c.quotas.features = try featureQuotas(v)
        },
        Key(name: "quotas.check_seconds", help: "a run held by a limit is looked at again this much later") {
            $0.quotas.checkSeconds = try Parse.double($1)
        },
    ]

    /// `{"NAME": {"max_in_flight": N, "daily_cost_micros": N, "monthly_cost_micros": N}}` (JSON text in the environment).
    private static func featureQuotas(_ value: JSONValue) throws(KilnError) -> [String: QuotaLimits] {
        var document = value
        if case .string(let text) = value { document = try JSONValue.parse(text, what: "quotas.features") }
        guard let entries = document.objectValue else {
            throw KilnError(.invalidConfiguration, "must be an object of feature → {max_in_flight, daily_cost_micros, monthly_cost_micros}")
        }
        var features: [String: QuotaLimits] = [:]
        for (name, entry) in entries where !name.hasPrefix("_") {
            guard let object = entry.objectValue else {
                throw KilnError(.invalidConfiguration, "entry \(name.prefix(64)) must be an object")
            }
            var limits = QuotaLimits()
            for (key, number) in object {
                func int() throws(KilnError) -> Int? { number == .null ? nil : try Parse.int(number) }
                switch key {
                case "max_in_flight": limits.maxInFlight = try int()
                case "daily_cost_micros": limits.dailyCostMicros = try int().map(Int64.init)
                case "monthly_cost_micros": limits.monthlyCostMicros = try int().map(Int64.init)
                default:
                    throw KilnError(
                        .invalidConfiguration,
                        "entry \(name.prefix(64)) has an unknown key \(key.prefix(64)); known: max_in_flight, daily_cost_micros, monthly_cost_micros"
                    )
                }
            }
            features[name] = limits
        }
        return features
    }
}
