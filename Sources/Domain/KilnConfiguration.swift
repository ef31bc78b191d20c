import Foundation

/// Everything an operator can tune, with the documented defaults of `config/kiln.json`.
///
/// Libraries receive this struct; only the `kiln` command reads files and the environment
/// (see `ConfigurationLoader` there, whose key table documents every key).
public struct KilnConfiguration: Sendable {
    public var policy = RunPolicy()
    public var limits = InputLimits()
    public var documents = DocumentSettings()
    public var provider = ProviderSettings()
    public var submitter = SubmitterSettings()
    public var poller = PollerSettings()
    public var worker = WorkerSettings()
    public var webhooks = WebhookConfiguration()
    public var http = HTTPSettings()
    public var log = LogSettings()
    /// Limits on runs in flight and spend, per tenant and per feature (``QuotaSettings``).
    public var quotas = QuotaSettings()
    /// Multipliers of the price table by service tier and completion window.
    public var pricing = PricingSettings()
    public var batch = BatchSettings()
    /// The built-in features and those declared under `features` (``DeclaredFeature``).
    public var features = FeatureCatalog.builtIn
    /// Prices per model, for `cost_micros`. A model without a price gets no cost.
    public var prices: [String: ModelPrice] = [
        "gpt-5": ModelPrice(inputPerMillionMicros: 1_250_000, outputPerMillionMicros: 10_000_000),
        "gpt-5-mini": ModelPrice(inputPerMillionMicros: 250_000, outputPerMillionMicros: 2_000_000),
        "gpt-5-nano": ModelPrice(inputPerMillionMicros: 50_000, outputPerMillionMicros: 400_000),
    ]

    public init() {}

    /// Checks every value; the first problem is reported with its key.
    public func validate() throws(KilnError) {
        try policy.validate(prefix: "policy.")
        func check(_ ok: Bool, _ key: String, _ rule: String, _ value: Any) throws(KilnError) {
            if !ok { throw KilnError(.invalidConfiguration, "\(key) \(rule), got \(value)") }
        }
        try check(
            (1...50_000_000).contains(limits.maxInputChars), "limits.max_input_chars", "must be in 1...50000000", limits.maxInputChars)
        try check(
            (limits.maxInputChars...1_000_000_000).contains(limits.maxDocumentChars), "limits.max_document_chars",
            "must be in limits.max_input_chars...1000000000", limits.maxDocumentChars)
        if limits.maxDocumentChars > limits.maxInputChars { try documents.validate(limits: limits) }
        try check(
            provider.connectTimeoutSeconds > 0 && provider.connectTimeoutSeconds <= 120, "provider.connect_timeout_seconds",
            "must be in (0, 120]", provider.connectTimeoutSeconds)
        try check(
            provider.requestTimeoutSeconds > 0 && provider.requestTimeoutSeconds <= 3600, "provider.request_timeout_seconds",
            "must be in (0, 3600]", provider.requestTimeoutSeconds)
        try check((1...1024).contains(provider.maxConnections), "provider.max_connections", "must be in 1...1024", provider.maxConnections)
        try check((1...1000).contains(submitter.batchSize), "submitter.batch_size", "must be in 1...1000", submitter.batchSize)
        try check((1...1024).contains(submitter.concurrency), "submitter.concurrency", "must be in 1...1024", submitter.concurrency)
        try check(
            submitter.leaseSeconds >= 5 && submitter.leaseSeconds <= 3600, "submitter.lease_seconds", "must be in 5...3600",
            submitter.leaseSeconds)
        if let tokens = submitter.maxInputTokensPerMinute {
            try check(tokens >= 1_000, "submitter.max_input_tokens_per_minute", "must be ≥ 1000 or null", tokens)
        }
        try check(submitter.maxRequestsPerSecond > 0, "submitter.max_requests_per_second", "must be > 0", submitter.maxRequestsPerSecond)
        try check(
            submitter.retryBaseSeconds > 0 && submitter.retryBaseSeconds <= submitter.retryMaxSeconds, "submitter.retry_base_seconds",
            "must be > 0 and ≤ submitter.retry_max_seconds", submitter.retryBaseSeconds)
        try check(submitter.flexRetrySeconds > 0, "submitter.flex_retry_seconds", "must be > 0", submitter.flexRetrySeconds)
        try check(submitter.flexFallbackSeconds >= 0, "submitter.flex_fallback_seconds", "must be ≥ 0", submitter.flexFallbackSeconds)
        try check(submitter.quotaPauseSeconds > 0, "submitter.quota_pause_seconds", "must be > 0", submitter.quotaPauseSeconds)
        try check((1...1000).contains(poller.batchSize), "poller.batch_size", "must be in 1...1000", poller.batchSize)
        try check((1...1024).contains(poller.concurrency), "poller.concurrency", "must be in 1...1024", poller.concurrency)
        try check(
            poller.leaseSeconds >= 5 && poller.leaseSeconds <= 3600, "poller.lease_seconds", "must be in 5...3600", poller.leaseSeconds)
        try check(poller.minIntervalSeconds > 0, "poller.min_interval_seconds", "must be > 0", poller.minIntervalSeconds)
        try check(poller.initialDelaySeconds >= 0, "poller.initial_delay_seconds", "must be ≥ 0", poller.initialDelaySeconds)
        try check(
            poller.maxIntervalSeconds >= poller.minIntervalSeconds && poller.maxIntervalSeconds <= 300, "poller.max_interval_seconds",
            "must be ≥ poller.min_interval_seconds and ≤ 300 (the provider keeps background results for about 10 minutes)",
            poller.maxIntervalSeconds)
        try check(poller.growth >= 1 && poller.growth <= 4, "poller.growth", "must be in 1...4", poller.growth)
        try check(poller.jitter >= 0 && poller.jitter < 1, "poller.jitter", "must be in [0, 1)", poller.jitter)
        try check(
            poller.safetyNetMaxSeconds >= poller.minIntervalSeconds && poller.safetyNetMaxSeconds <= 600,
            "poller.safety_net_max_seconds", "must be ≥ poller.min_interval_seconds and ≤ 600", poller.safetyNetMaxSeconds)
        try check(
            worker.shutdownGraceSeconds > 0 && worker.shutdownGraceSeconds <= 600, "worker.shutdown_grace_seconds", "must be in (0, 600]",
            worker.shutdownGraceSeconds)
        try check(worker.maxIdleSeconds > 0, "worker.max_idle_seconds", "must be > 0", worker.maxIdleSeconds)
        if let days = worker.retentionDays {
            try check(days > 0 && days <= 36_500, "worker.retention_days", "must be in (0, 36500] or null", days)
        }
        try quotas.validate()
        try pricing.validate()
        try batch.validate()
        for (model, price) in prices {
            try check(
                price.inputPerMillionMicros >= 0 && price.outputPerMillionMicros >= 0, "prices.\(model)", "must not be negative",
                "\(price.inputPerMillionMicros)/\(price.outputPerMillionMicros)")
        }
    }
}

/// Where the provider is and how to reach it. The API key itself is not here: it is
/// passed separately (``KilnDomain`` never holds a secret in a value that could be logged).
public struct ProviderSettings: Sendable {
    public enum Auth: String, Sendable, CaseIterable {
        /// `Authorization: Bearer <key>` (OpenAI, vLLM, Azure with Entra ID tokens).
        case bearer
        /// `api-key: <key>` (Azure OpenAI keys).
        case azureAPIKey = "azure-api-key"
    }

    public var baseURL = "https://api.openai.com/v1"
    public var auth = Auth.bearer
    public var organization: String?
    public var project: String?
    /// A file holding the API key, read instead of `OPENAI_API_KEY` (the path is not a secret).
    public var apiKeyFile: String?
    public var connectTimeoutSeconds = 5.0
    public var requestTimeoutSeconds = 30.0
    public var maxConnections = 64
    /// Delete a run's stored response at the provider once Kiln has recorded its result (the
    /// provider otherwise keeps background responses, `store: true`, for its retention period).
    public var deleteAfterFinalize = true

    public init() {}
}

public struct SubmitterSettings: Sendable {
    public enum AmbiguousSend: String, Sendable, CaseIterable {
        /// Send again, and record a `possible_duplicate` event.
        case resubmit
        /// Fail the run with `possible_duplicate`, and record the event.
        case fail
    }

    public var batchSize = 50
    public var concurrency = 16
    public var leaseSeconds = 60.0
    public var maxRequestsPerSecond = 50.0
    /// Estimated input tokens (characters ÷ 4) sent per minute, shared by every create; nil: no limit.
    public var maxInputTokensPerMinute: Double? = 2_000_000
    public var retryBaseSeconds = 2.0
    public var retryMaxSeconds = 300.0
    /// A flex run refused for capacity (429 `resource_unavailable`, not billed) is tried again this much later.
    public var flexRetrySeconds = 60.0
    /// A flex run still unsent this long after its creation, or this close to its deadline, is sent at standard.
    public var flexFallbackSeconds = 900.0
    /// After 429 `insufficient_quota` (or a response failed for quota) no run is sent for this long.
    public var quotaPauseSeconds = 300.0
    public var ambiguousSend = AmbiguousSend.resubmit

    public init() {}
}

public struct PollerSettings: Sendable {
    public var batchSize = 100
    public var concurrency = 32
    public var leaseSeconds = 60.0
    /// First poll after submission, before anything is learned about this feature's runs.
    public var initialDelaySeconds = 5.0
    public var minIntervalSeconds = 2.0
    /// Never wait longer than this between polls (well under the ~10-minute retention).
    public var maxIntervalSeconds = 120.0
    /// Each interval is this factor times the time already elapsed, at least.
    public var growth = 1.095
    /// ± this share of random spread on each interval.
    public var jitter = 0.1
    /// True when webhooks tell Kiln that responses ended (a webhook secret is configured):
    /// polling becomes the safety net (``PollSchedule``).
    public var webhooksEnabled = false
    /// With webhooks on, the longest wait between safety-net polls: under the provider's
    /// ~10-minute retention of background results.
    public var safetyNetMaxSeconds = 540.0

    public init() {}
}

/// Where the webhook signing secrets come from (files; the paths are not secrets). Without a
/// file, `OPENAI_WEBHOOK_SECRET` (and `OPENAI_WEBHOOK_PREVIOUS_SECRET` during a rotation).
public struct WebhookConfiguration: Sendable {
    public var secretFile: String?
    public var previousSecretFile: String?

    public init() {}
}

/// Kiln's HTTP listener (the webhook receiver, `/metrics`, the dashboard): `HOST:PORT`, or nil
/// for none; who may use the dashboard (the password and token themselves are secrets: from
/// `KILN_HTTP_PASSWORD`/`KILN_HTTP_TOKEN` or the files named here).
public struct HTTPSettings: Sendable {
    public var listen: String?
    public var authUser: String?
    public var authPasswordFile: String?
    public var authTokenFile: String?
    /// The dashboard shows everything and refuses every action.
    public var readOnly = false

    public init() {}
}

/// Log lines: `text` (swift-log's default) or `json` (one object per line), at `level`.
public struct LogSettings: Sendable {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public var format = Format.text
    public var level = "info"

    public init() {}
}

public struct WorkerSettings: Sendable {
    public var shutdownGraceSeconds = 20.0
    /// The longest a daemon sleeps when nothing is due.
    public var maxIdleSeconds = 30.0
    /// Runs that ended longer ago than this many days are pruned by the poller (a batch a
    /// minute, spend kept); nil: kept until `kiln prune`.
    public var retentionDays: Double?

    public init() {}
}

/// A model's price, in millionths of a dollar per million tokens.
public struct ModelPrice: Sendable, Hashable {
    public var inputPerMillionMicros: Int64
    public var outputPerMillionMicros: Int64
    /// Input read from the prompt cache; nil: a tenth of the input price (OpenAI's 90 % off).
    public var cachedInputPerMillionMicros: Int64?
    /// Input written to the prompt cache; nil: the input price.
    public var cacheWritePerMillionMicros: Int64?

    public init(
        inputPerMillionMicros: Int64, outputPerMillionMicros: Int64, cachedInputPerMillionMicros: Int64? = nil,
        cacheWritePerMillionMicros: Int64? = nil
    ) {
        self.inputPerMillionMicros = inputPerMillionMicros
        self.outputPerMillionMicros = outputPerMillionMicros
        self.cachedInputPerMillionMicros = cachedInputPerMillionMicros
        self.cacheWritePerMillionMicros = cacheWritePerMillionMicros
    }

    public var cachedInput: Int64 { cachedInputPerMillionMicros ?? inputPerMillionMicros / 10 }
    public var cacheWrite: Int64 { cacheWritePerMillionMicros ?? inputPerMillionMicros }

    /// The cost of `usage` at `multiplier` (a tier's or a completion window's, ``PricingSettings``),
    /// rounded up to a whole micro-dollar: uncached input, cached input and cache writes each at
    /// their price, output (reasoning included) at the output price.
    public func costMicros(for usage: RunUsage, multiplier: Double = 1) -> Int64 {
        let cached = max(0, min(usage.cachedInputTokens, usage.inputTokens))
        let written = max(0, min(usage.cacheWriteTokens, usage.inputTokens - cached))
        let uncached = usage.inputTokens - cached - written
        let total =
            Int64(uncached) * inputPerMillionMicros + Int64(cached) * cachedInput + Int64(written) * cacheWrite
            + Int64(usage.outputTokens) * outputPerMillionMicros
        guard multiplier != 1 else { return (total + 999_999) / 1_000_000 }
        return Int64((Double(total) * multiplier / 1_000_000).rounded(.up))
    }
}

/// What the provider bills on top of a model's list price: the service tier it reports having
/// used (`flex` at Batch rates, `priority`), or the completion window the run asked for.
public struct PricingSettings: Sendable, Hashable {
    public var flexMultiplier = 0.5
    public var priorityMultiplier = 2.0
    public var window2hMultiplier = 0.7
    public var window8hMultiplier = 0.6
    /// Runs carried by the Batch API (the `batch` lane), whatever tier their responses report.
    public var batchMultiplier = 0.5

    public init() {}

    /// The multiplier of a response served at `tier` for a run sent with `window`: the tier's
    /// when it is flex or priority, else the window's discount, else 1 (`default`, `auto`,
    /// none). The tier wins because it is what the provider reports; stacking a window on flex
    /// is not documented (the README says so).
    public func multiplier(tier: String?, window: String?) -> Double {
        switch tier {
        case "flex": return flexMultiplier
        case "priority", "fast": return priorityMultiplier
        default: break
        }
        switch window {
        case "2h": return window2hMultiplier
        case "8h": return window8hMultiplier
        default: return 1
        }
    }

    func validate() throws(KilnError) {
        for (key, value) in [
            ("pricing.flex_multiplier", flexMultiplier), ("pricing.priority_multiplier", priorityMultiplier),
            ("pricing.window_2h_multiplier", window2hMultiplier), ("pricing.window_8h_multiplier", window8hMultiplier),
            ("pricing.batch_multiplier", batchMultiplier),
        ] where !(value > 0 && value <= 10) {
            throw KilnError(.invalidConfiguration, "\(key) must be in (0, 10], got \(value)")
        }
    }
}
