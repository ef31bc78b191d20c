import KilnDomain

extension ConfigurationLoader {
    /// Every configuration key: name, meaning, and how it is applied. Defaults live on the
    /// structs of ``KilnConfiguration``.
    static let keys: [Key] = generalKeys + quotaKeys + pricingKeys

    private static let generalKeys: [Key] = [
        Key(name: "policy.model", help: "default model") { $0.policy.model = try Parse.string($1) },
        Key(name: "policy.max_output_tokens", help: "default max_output_tokens sent to the provider") {
            $0.policy.maxOutputTokens = try Parse.int($1)
        },
        Key(name: "policy.max_output_chars", help: "output longer than this is cut and the cut recorded") {
            $0.policy.maxOutputChars = try Parse.int($1)
        },
        Key(name: "policy.requires_review", help: "completed runs get review_state = pending") {
            $0.policy.requiresReview = try Parse.bool($1)
        },
        Key(name: "policy.deadline_seconds", help: "from created_at; then cancelled at the provider and timed_out") {
            $0.policy.deadlineSeconds = try Parse.int($1)
        },
        Key(name: "policy.max_attempts", help: "provider submissions before a retryable error fails the run") {
            $0.policy.maxAttempts = try Parse.int($1)
        },
        Key(name: "policy.completion_window", help: "soonest, 2h or 8h; null sends none") { c, v in
            c.policy.completionWindow = v == .null ? nil : try Parse.choice(v, RunPolicy.CompletionWindow.self)
        },
        Key(name: "policy.max_cost_micros", help: "a long document whose estimated tree costs more is refused; null: no cap") { c, v in
            c.policy.maxCostMicros = v == .null ? nil : Int64(try Parse.int(v))
        },
        Key(name: "policy.over_budget", help: "wait (stay queued) or fail when a cost cap would be exceeded") {
            $0.policy.overBudget = try Parse.choice($1, OverBudget.self)
        },
        Key(name: "policy.allow_missing_fraction", help: "share of a long document that may go unsummarized (partial output)") {
            $0.policy.allowMissingFraction = try Parse.double($1)
        },
        Key(name: "limits.max_input_chars", help: "largest text one request carries; longer documents become trees") {
            $0.limits.maxInputChars = try Parse.int($1)
        },
        Key(name: "limits.max_document_chars", help: "largest document_summary text accepted at enqueue") {
            $0.limits.maxDocumentChars = try Parse.int($1)
        },
        Key(name: "documents.chunk_chars", help: "largest chunk a map child summarizes") { $0.documents.chunkChars = try Parse.int($1) },
        Key(name: "documents.group_chars", help: "most characters of partial summaries one reduce child reads") {
            $0.documents.groupChars = try Parse.int($1)
        },
        Key(name: "documents.children_in_flight", help: "children of one document sent at once") {
            $0.documents.childrenInFlight = try Parse.int($1)
        },
        Key(name: "documents.max_depth", help: "deepest reduce level") { $0.documents.maxDepth = try Parse.int($1) },
        Key(name: "documents.min_shrink", help: "share each level must shrink by, or the parent fails") {
            $0.documents.minShrink = try Parse.double($1)
        },
        Key(name: "documents.child_output_tokens", help: "max_output_tokens of map and intermediate reduce children") {
            $0.documents.childOutputTokens = try Parse.int($1)
        },
        Key(name: "documents.check_seconds", help: "longest wait between two looks at a parent") {
            $0.documents.checkSeconds = try Parse.double($1)
        },
        Key(name: "documents.max_children", help: "most map children of one document") { $0.documents.maxChildren = try Parse.int($1) },
        Key(name: "provider.base_url", help: "Responses API base URL, up to /v1") { $0.provider.baseURL = try Parse.string($1) },
        Key(name: "provider.auth", help: "bearer (Authorization header) or azure-api-key (api-key header)") {
            $0.provider.auth = try Parse.choice($1, ProviderSettings.Auth.self)
        },
        Key(name: "provider.organization", help: "OpenAI-Organization header") { $0.provider.organization = try Parse.optionalString($1) },
        Key(name: "provider.project", help: "OpenAI-Project header") { $0.provider.project = try Parse.optionalString($1) },
        Key(name: "provider.api_key_file", help: "read the API key from this file instead of OPENAI_API_KEY") {
            $0.provider.apiKeyFile = try Parse.optionalString($1)
        },
        Key(name: "webhooks.secret_file", help: "read the webhook signing secret from this file instead of OPENAI_WEBHOOK_SECRET") {
            $0.webhooks.secretFile = try Parse.optionalString($1)
        },
        Key(
            name: "webhooks.previous_secret_file",
            help: "during a rotation, the previous secret (else OPENAI_WEBHOOK_PREVIOUS_SECRET)"
        ) { $0.webhooks.previousSecretFile = try Parse.optionalString($1) },
        Key(name: "http.listen", help: "HOST:PORT of the webhook receiver (same as --listen); null for none") {
            $0.http.listen = try Parse.optionalString($1)
        },
        Key(name: "provider.connect_timeout_seconds", help: "TCP/TLS connect timeout") {
            $0.provider.connectTimeoutSeconds = try Parse.double($1)
        },
        Key(name: "provider.request_timeout_seconds", help: "timeout of one provider call") {
            $0.provider.requestTimeoutSeconds = try Parse.double($1)
        },
        Key(name: "provider.max_connections", help: "HTTP connections kept to the provider") {
            $0.provider.maxConnections = try Parse.int($1)
        },
        Key(name: "provider.delete_after_finalize", help: "delete a run's stored response at the provider once its result is recorded") {
            $0.provider.deleteAfterFinalize = try Parse.bool($1)
        },
        Key(name: "submitter.batch_size", help: "runs claimed per submit pass") { $0.submitter.batchSize = try Parse.int($1) },
        Key(name: "submitter.concurrency", help: "create calls in flight at once") { $0.submitter.concurrency = try Parse.int($1) },
        Key(name: "submitter.lease_seconds", help: "lease on a run being submitted") { $0.submitter.leaseSeconds = try Parse.double($1) },
        Key(name: "submitter.max_input_tokens_per_minute", help: "shared budget of estimated input tokens sent; null: none") { c, v in
            c.submitter.maxInputTokensPerMinute = v == .null ? nil : try Parse.double(v)
        },
        Key(name: "submitter.max_requests_per_second", help: "shared budget of create calls") {
            $0.submitter.maxRequestsPerSecond = try Parse.double($1)
        },
        Key(name: "submitter.retry_base_seconds", help: "first back-off after a retryable error") {
            $0.submitter.retryBaseSeconds = try Parse.double($1)
        },
        Key(name: "submitter.retry_max_seconds", help: "longest back-off") { $0.submitter.retryMaxSeconds = try Parse.double($1) },
        Key(name: "submitter.ambiguous_send", help: "resubmit or fail a run whose create may have reached the provider") {
            $0.submitter.ambiguousSend = try Parse.choice($1, SubmitterSettings.AmbiguousSend.self)
        },
        Key(name: "poller.batch_size", help: "runs claimed per poll pass") { $0.poller.batchSize = try Parse.int($1) },
        Key(name: "poller.concurrency", help: "retrieve calls in flight at once") { $0.poller.concurrency = try Parse.int($1) },
        Key(name: "poller.lease_seconds", help: "lease on a run being polled") { $0.poller.leaseSeconds = try Parse.double($1) },
        Key(name: "poller.initial_delay_seconds", help: "first poll after submission, before anything is learned") {
            $0.poller.initialDelaySeconds = try Parse.double($1)
        },
        Key(name: "poller.min_interval_seconds", help: "shortest time between two polls of a run") {
            $0.poller.minIntervalSeconds = try Parse.double($1)
        },
        Key(name: "poller.max_interval_seconds", help: "longest time between two polls (≤ 300)") {
            $0.poller.maxIntervalSeconds = try Parse.double($1)
        },
        Key(name: "poller.growth", help: "interval growth per poll") { $0.poller.growth = try Parse.double($1) },
        Key(name: "poller.jitter", help: "random spread of each interval, as a share") { $0.poller.jitter = try Parse.double($1) },
        Key(
            name: "poller.safety_net_max_seconds",
            help: "with webhooks on, the longest wait between safety-net polls (≤ 600, under the ~10-minute retention)"
        ) { $0.poller.safetyNetMaxSeconds = try Parse.double($1) },
        Key(name: "worker.shutdown_grace_seconds", help: "on SIGTERM, time to finish calls in flight") {
            $0.worker.shutdownGraceSeconds = try Parse.double($1)
        },
        Key(name: "worker.max_idle_seconds", help: "longest sleep of a daemon with nothing due") {
            $0.worker.maxIdleSeconds = try Parse.double($1)
        },
        Key(name: "worker.retention_days", help: "runs that ended longer ago are pruned by the poller; null: kept") { c, v in
            c.worker.retentionDays = v == .null ? nil : try Parse.double(v)
        },
    ]
}
