/// What the simulator's webhook sender did, for tests and benchmarks to print and compare
/// with what a receiver saw (``Simulator/webhookCounters``, and `webhooks` in `/_sim/stats`).
public struct WebhookCounters: Sendable, Equatable {
    /// Response events that came due: one per background response that ended.
    public var events = 0
    /// POSTs made: first tries, retries, duplicates and ignorable events alike.
    public var attempted = 0
    /// POSTs answered with a 2xx.
    public var delivered = 0
    /// Response events never sent, by ``WebhookSettings/dropRate``.
    public var dropped = 0
    /// Second copies of an event sent, by ``WebhookSettings/duplicateRate``.
    public var duplicates = 0
    /// Attempts after a failed one.
    public var retries = 0
    /// Messages given up after ``WebhookSettings/maxAttempts`` failed attempts.
    public var abandoned = 0
    /// Creates whose answer waited for their webhook, by ``WebhookSettings/earlyRate``.
    public var early = 0
    /// Extra events Kiln must ignore (other types, dashboard test events), by ``WebhookSettings/ignorableRate``.
    public var ignorable = 0

    public init() {}

    /// The counters as `/_sim/stats` shows them.
    var dictionary: [String: Int] {
        [
            "events": events, "attempted": attempted, "delivered": delivered, "dropped": dropped, "duplicates": duplicates,
            "retries": retries, "abandoned": abandoned, "early": early, "ignorable": ignorable,
        ]
    }
}
