import KilnDomain

extension ConfigurationLoader {
    /// The `quotas` section: limits every tenant gets, limits per feature, and the recheck period.
    static let quotaKeys: [Key] =
        operatorKeys + [
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

extension ConfigurationLoader {
    /// Who may use the dashboard and `/metrics`, and how logs are written.
    static let operatorKeys: [Key] = [
        Key(name: "http.auth_user", help: "basic-auth user of the dashboard and /metrics (password: KILN_HTTP_PASSWORD or the file)") {
            c, v in
            c.http.authUser = try Parse.optionalString(v)
        },
        Key(name: "http.auth_password_file", help: "a file holding the basic-auth password") { c, v in
            c.http.authPasswordFile = try Parse.optionalString(v)
        },
        Key(name: "http.auth_token_file", help: "a file holding a bearer token for the dashboard and /metrics (or KILN_HTTP_TOKEN)") {
            c, v in
            c.http.authTokenFile = try Parse.optionalString(v)
        },
        Key(name: "http.read_only", help: "the dashboard shows everything and refuses every action") {
            $0.http.readOnly = try Parse.bool($1)
        },
        Key(name: "log.format", help: "text, or json (one object per line)") {
            $0.log.format = try Parse.choice($1, LogSettings.Format.self)
        },
        Key(name: "log.level", help: "trace, debug, info, notice, warning or error (--log-level wins)") { c, v in
            let level = try Parse.string(v)
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(level) else {
                throw KilnError(.invalidConfiguration, "must be trace, debug, info, notice, warning or error, got \"\(level.prefix(20))\"")
            }
            c.log.level = level
        },
    ]
}

extension ConfigurationLoader {
    /// Multipliers of the price table by the tier the provider reports and the completion window.
    static let pricingKeys: [Key] = [
        Key(name: "pricing.flex_multiplier", help: "a response the provider served at service_tier flex (Batch rates)") {
            $0.pricing.flexMultiplier = try Parse.double($1)
        },
        Key(name: "pricing.priority_multiplier", help: "a response served at service_tier priority") {
            $0.pricing.priorityMultiplier = try Parse.double($1)
        },
        Key(name: "pricing.window_2h_multiplier", help: "a run sent with completion_window 2h (30 % off)") {
            $0.pricing.window2hMultiplier = try Parse.double($1)
        },
        Key(name: "pricing.window_8h_multiplier", help: "a run sent with completion_window 8h (40 % off)") {
            $0.pricing.window8hMultiplier = try Parse.double($1)
        },
        Key(name: "pricing.batch_multiplier", help: "a run carried by the Batch API (lane batch)") {
            $0.pricing.batchMultiplier = try Parse.double($1)
        },
        Key(name: "policy.lane", help: "standard, flex, window_2h, window_8h or batch: how patient a run may be for a lower price") {
            $0.policy.lane = try Parse.choice($1, RunPolicy.Lane.self)
        },
        Key(name: "submitter.flex_retry_seconds", help: "a flex run refused for capacity is tried again this much later") {
            $0.submitter.flexRetrySeconds = try Parse.double($1)
        },
        Key(
            name: "submitter.flex_fallback_seconds",
            help: "a flex run unsent this long after creation (or this near its deadline) goes standard"
        ) {
            $0.submitter.flexFallbackSeconds = try Parse.double($1)
        },
        Key(name: "submitter.quota_pause_seconds", help: "after insufficient_quota nothing is sent for this long") {
            $0.submitter.quotaPauseSeconds = try Parse.double($1)
        },
        Key(name: "batch.gather_seconds", help: "a batch gathers runs of its model this long before it is sent") {
            $0.batch.gatherSeconds = try Parse.double($1)
        },
        Key(name: "batch.max_requests", help: "most requests of one batch file (≤ 50,000)") { $0.batch.maxRequests = try Parse.int($1) },
        Key(name: "batch.max_bytes", help: "most bytes of one batch file (≤ 200,000,000)") { $0.batch.maxBytes = try Parse.int($1) },
        Key(name: "batch.poll_seconds", help: "how often a submitted batch is polled") { $0.batch.pollSeconds = try Parse.double($1) },
        Key(name: "batch.lease_seconds", help: "how long a process holds a batch for one step") {
            $0.batch.leaseSeconds = try Parse.double($1)
        },
        Key(name: "batch.retry_seconds", help: "first wait after a failed upload, create or poll (doubling)") {
            $0.batch.retrySeconds = try Parse.double($1)
        },
        Key(name: "batch.max_tries", help: "failed uploads before a batch gives its runs back (sent at standard)") {
            $0.batch.maxTries = try Parse.int($1)
        },
        Key(name: "batch.delete_files", help: "delete a batch's input, output and error files at the provider when done") {
            $0.batch.deleteFiles = try Parse.bool($1)
        },
    ]
}
