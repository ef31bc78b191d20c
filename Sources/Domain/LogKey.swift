/// Every log metadata key Kiln writes, in one place, each with one meaning.
public enum LogKey {
    /// The run a line is about (`run_…`).
    public static let runID = "run_id"
    /// The provider's response id of that run.
    public static let responseID = "response_id"
    public static let tenantID = "tenant_id"
    public static let feature = "feature"
    public static let model = "model"
    /// Kiln's batch id (`kiln_batches.id`) and the provider's.
    public static let batchID = "batch_id"
    public static let providerBatchID = "provider_batch_id"
    /// The run's submission attempt.
    public static let attempt = "attempt"
    /// What went wrong: a Kiln error message or a provider error code (never a secret).
    public static let error = "error"
    /// A run status or provider status the line reports.
    public static let status = "status"
    /// Why Kiln acted (a cancel's reason, an ambiguous send's cause).
    public static let reason = "reason"
    /// How a provider call failed (`rate_limited`, `retryable`, `ambiguous`, …).
    public static let errorKind = "error_kind"
    /// Seconds until the next try of something that failed.
    public static let retryInSeconds = "retry_in_seconds"
    /// Seconds every provider call waits (a 429's pause).
    public static let waitSeconds = "wait_seconds"
    /// Tries of a write that failed before it went through.
    public static let failedAttempts = "failed_attempts"
    /// The process (`host:pid`) a worker runs as.
    public static let owner = "owner"
    /// Whether a worker submits, and whether it polls.
    public static let submit = "submit"
    public static let poll = "poll"
    /// A provider call (`create`, `retrieve`, `cancel`, `delete`).
    public static let operation = "operation"
    /// The HTTP status a provider answered with.
    public static let httpStatus = "http_status"
    /// The provider's `x-request-id`, for support tickets.
    public static let requestID = "request_id"
    /// A webhook delivery's `webhook-id` and event `type` (never its signature or the secret).
    public static let webhookID = "webhook_id"
    public static let eventType = "event_type"
    /// What became of a webhook delivery (`made_due`, `unmatched`, `duplicate`, `refused`, …).
    public static let outcome = "outcome"
}
