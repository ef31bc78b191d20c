import Foundation
import KilnDomain
import Metrics

/// Kiln's counters and histograms, through swift-metrics (a process that serves `/metrics`
/// bootstraps swift-prometheus; without a bootstrap every call is a no-op). Names are in final
/// Prometheus form (base units, `_total`, `_seconds`); labels are bounded (status, feature,
/// operation, outcome: never a tenant or a run id), always in the same order.
public enum Telemetry {
    public enum Name {
        public static let runsFinished = "kiln_runs_finished_total"
        public static let runDuration = "kiln_run_duration_seconds"
        public static let queueDuration = "kiln_run_queue_duration_seconds"
        public static let pollLag = "kiln_poll_lag_seconds"
        public static let tokens = "kiln_tokens_total"
        public static let cost = "kiln_cost_usd_total"
        public static let duplicates = "kiln_duplicate_submissions_total"
        public static let orphans = "kiln_orphan_responses_total"
        public static let providerRequests = "kiln_provider_requests_total"
        public static let providerDuration = "kiln_provider_request_duration_seconds"
        public static let webhookDeliveries = "kiln_webhook_deliveries_total"
        public static let lastPass = "kiln_last_pass_timestamp_seconds"
    }

    /// A run reached a terminal status: what it ran, how long, at what cost.
    public static func finished(_ run: Run) {
        let feature = run.feature
        let status = run.status.rawValue
        Counter(label: Name.runsFinished, dimensions: [("feature", feature), ("status", status)]).increment()
        if let end = run.finalizedAt {
            Timer(label: Name.runDuration, dimensions: [("feature", feature), ("status", status)])
                .recordSeconds(max(0, end.timeIntervalSince(run.createdAt)))
            if let providerEnd = run.providerCompletedAt {
                Timer(label: Name.pollLag, dimensions: []).recordSeconds(max(0, end.timeIntervalSince(providerEnd)))
            }
        }
        guard !run.isTreeParent else { return }  // a parent's tokens and cost are its children's, counted as they end
        if let usage = run.usage {
            for (type, count) in [
                ("input", usage.inputTokens), ("output", usage.outputTokens), ("cached_input", usage.cachedInputTokens),
                ("reasoning", usage.reasoningTokens),
            ] where count > 0 {
                Counter(label: Name.tokens, dimensions: [("feature", feature), ("type", type)]).increment(by: Int64(count))
            }
        }
        if let cost = run.costMicros, cost > 0 {
            FloatingPointCounter(label: Name.cost, dimensions: [("feature", feature)]).increment(by: Double(cost) / 1_000_000)
        }
    }

    /// The provider accepted a run: how long it waited from creation.
    public static func accepted(_ run: Run) {
        guard let submitted = run.submittedAt else { return }
        Timer(label: Name.queueDuration, dimensions: [("feature", run.feature)])
            .recordSeconds(max(0, submitted.timeIntervalSince(run.createdAt)))
    }

    public static func possibleDuplicate(feature: String) {
        Counter(label: Name.duplicates, dimensions: [("feature", feature)]).increment()
    }

    /// The provider said the account is out of quota (429 `insufficient_quota`).
    public static func quotaExhausted() {
        Counter(label: "kiln_quota_exhausted_total", dimensions: []).increment()
    }

    public static func orphanResponse() {
        Counter(label: Name.orphans, dimensions: []).increment()
    }

    /// A submit or poll pass ended without an error (the batch-job "last success" signal).
    public static func passCompleted(_ worker: String, at now: Date) {
        Gauge(label: Name.lastPass, dimensions: [("worker", worker)]).record(now.timeIntervalSince1970)
    }

    /// What a written update means for the counters: a run that ended, a run accepted.
    public static func record(_ update: RunUpdate) {
        if update.run.status.isTerminal, !update.expectedStatus.isTerminal { finished(update.run) }
        if update.run.status == .inProgress, update.expectedStatus == .submitting, update.run.submittedAt != nil { accepted(update.run) }
    }
}
