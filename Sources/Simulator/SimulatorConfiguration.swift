/// How the simulated provider behaves. Every duration is in *provider seconds*; the
/// simulator runs them `timeScale` times faster in real time.
public struct SimulatorConfiguration: Sendable {
    /// Provider seconds per real second (60 runs a 3-minute generation in 3 s).
    public var timeScale = 1.0
    /// Queue wait, uniform in this range.
    public var queueWaitMin = 0.0
    public var queueWaitMax = 2.0
    /// Longest queue wait of a run with a `2h`/`8h` completion window (uniform from 0).
    public var windowQueueWaitMax = 600.0
    /// Generation time: log-normal with this median and σ.
    public var generationMedian = 20.0
    public var generationSigma = 0.6
    /// Shares of terminal outcomes; the rest complete.
    public var failedShare = 0.0
    public var incompleteShare = 0.0
    /// Share of responses that stay `queued` for ever.
    public var stuckShare = 0.0
    /// After reaching a terminal state a response is kept this long, then answers 404;
    /// 0 keeps it for ever (OpenAI keeps `store: true` responses for 30 days).
    public var retention = 0.0
    /// Share of `/v1` calls answered with a fault from ``faultMix``.
    public var faultRate = 0.0
    public var faultMix: [SimulatorFault] = SimulatorFault.allCases
    /// Real seconds a `slow` fault waits before answering.
    public var slowSeconds = 2.0
    /// When set, requests need `Authorization: Bearer <key>` or `api-key: <key>`.
    public var apiKey: String?
    /// A 401 quotes the key it was given in full (a careless compatible server), instead of
    /// masked as OpenAI does: for testing that Kiln never stores or logs what comes back.
    public var quotesKeyInErrors = false
    /// Seeds every random choice, so a run of the simulator can be repeated.
    public var seed: UInt64 = 1
    /// Keep the last create bodies (for the spec-fidelity tests).
    public var recordCreateBodies = false
    /// When set, every background response that ends (completed, failed, incomplete, or
    /// cancelled through the API) is announced by a signed webhook to this receiver, as
    /// OpenAI does, whether or not anybody polls it. Off by default.
    public var webhooks: WebhookSettings? = nil
    /// Share of flex creates refused with 429 `resource_unavailable` (as `[sim:flex_busy]` does
    /// for one request): the provider's flex capacity is not guaranteed.
    public var flexBusyShare = 0.0
    /// The Batch API: how long a batch validates, the longest wait of one of its requests
    /// before it runs (uniform from 0; each then takes a generation), how long it finalizes
    /// and cancels, and its window (`24h`), after which it expires with what finished.
    public var batchValidatingSeconds = 5.0
    public var batchQueueWaitMax = 3600.0
    public var batchFinalizingSeconds = 5.0
    public var batchCancellingSeconds = 10.0
    public var batchWindowSeconds = 86_400.0

    public init() {}
}

/// A fault the simulator can inject on any `/v1` call.
public enum SimulatorFault: String, Sendable, CaseIterable {
    /// 429 with `retry-after` (seconds) or `retry-after-ms`, and the error envelope.
    case rateLimited = "429"
    /// 500 with the error envelope.
    case serverError = "500"
    /// 503 with an HTML body, as a load balancer sends it.
    case unavailableHTML = "503"
    /// The connection closes before an answer (a create is performed first).
    case drop
    /// The answer comes after `slowSeconds`.
    case slow
    /// A 200 whose JSON body is cut in half (a create is performed first).
    case truncated
}
