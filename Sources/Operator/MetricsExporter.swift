import Foundation
import KilnDomain
import KilnWorker
import Metrics
import Prometheus

/// `GET /metrics`: Kiln's counters and histograms (recorded through swift-metrics, kept by
/// swift-prometheus) and gauges read from the store at scrape time, cached a few seconds.
public final class MetricsExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    let live: Cached<LiveCounts>
    let summary: Cached<RunSummary>

    /// Run-level histograms reach 8 hours (a background run may wait in the provider's queue
    /// for hours); provider calls and poll lag keep finer buckets.
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let long: [Duration] = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800].map { .seconds($0) }
        factory.durationHistogramBuckets[Telemetry.Name.runDuration] = long
        factory.durationHistogramBuckets[Telemetry.Name.queueDuration] = long
        factory.durationHistogramBuckets[Telemetry.Name.pollLag] = [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600].map {
            .milliseconds(Int($0 * 1000))
        }
        factory.durationHistogramBuckets[Telemetry.Name.providerDuration] =
            [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30].map { .milliseconds(Int($0 * 1000)) }
        return factory
    }

    public init(store: any RunStore, registry: PrometheusCollectorRegistry, cacheSeconds: Int = 5) {
        self.registry = registry
        live = Cached(ttl: .seconds(cacheSeconds)) { try await store.liveCounts() }
        // The summary reads the whole table (sums of cost): at most every 10 s, for scrapes and pages alike.
        summary = Cached(ttl: .seconds(cacheSeconds == 0 ? 0 : max(cacheSeconds, 10))) { try await store.summary() }
    }

    /// The exposition text (`text/plain; version=0.0.4`).
    public func render(now: Date = Date()) async throws -> String {
        let counts = try await live.get()
        let summary = try await self.summary.get()
        var out = registry.emitToString()
        out += "# HELP kiln_runs Runs not finished, by status and feature (read from the table).\n# TYPE kiln_runs gauge\n"
        var seen = Set<String>()
        for row in counts.rows.sorted(by: { ($0.status.rawValue, $0.feature) < ($1.status.rawValue, $1.feature) }) {
            out += "kiln_runs{status=\"\(row.status.rawValue)\",feature=\"\(Self.label(row.feature))\"} \(row.count)\n"
            seen.insert(row.status.rawValue)
        }
        for status in ["queued", "submitting", "in_progress"] where !seen.contains(status) {
            out += "kiln_runs{status=\"\(status)\",feature=\"\"} 0\n"
        }
        out +=
            "# HELP kiln_oldest_run_age_seconds Age of the oldest queued run, and of the longest-running in-flight run since submission.\n"
        out += "# TYPE kiln_oldest_run_age_seconds gauge\n"
        out += "kiln_oldest_run_age_seconds{status=\"queued\"} \(Self.age(counts.oldestQueuedAt, now))\n"
        out += "kiln_oldest_run_age_seconds{status=\"in_flight\"} \(Self.age(counts.oldestInFlightSince, now))\n"
        out += "# HELP kiln_runs_held Queued runs a limit holds back, by reason.\n# TYPE kiln_runs_held gauge\n"
        for reason in WaitReason.allCases {
            out += "kiln_runs_held{reason=\"\(reason.rawValue)\"} \(summary.waiting[reason.rawValue] ?? 0)\n"
        }
        out += "# HELP kiln_provider_deletions_given_up Stored responses Kiln gave up deleting at the provider.\n"
        out += "# TYPE kiln_provider_deletions_given_up gauge\nkiln_provider_deletions_given_up \(summary.providerDeletionsGivenUp)\n"
        out += "# HELP kiln_batches Batches of the batch lane not done yet, by state.\n# TYPE kiln_batches gauge\n"
        for state in BatchState.allCases where state != .done {
            out += "kiln_batches{state=\"\(state.rawValue)\"} \(summary.batches[state.rawValue] ?? 0)\n"
        }
        out += "# HELP kiln_possible_duplicates Runs with a possible duplicate submission (from the table).\n"
        out += "# TYPE kiln_possible_duplicates gauge\nkiln_possible_duplicates \(summary.possibleDuplicates)\n"
        return out
    }

    private static func age(_ date: Date?, _ now: Date) -> String {
        guard let date else { return "0" }
        return String(format: "%.3f", max(0, now.timeIntervalSince(date)))
    }

    /// A label value as the exposition format wants it.
    static func label(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
            of: "\n", with: "\\n")
    }
}
