import Foundation
import KilnDomain

/// What the dashboard reads that costs a scan on a big table, cached briefly: counts by status
/// (10 s), the attention list and the charts (15 s), spend (30 s). Listings and a run's detail
/// are read fresh, through indexes.
final class DashboardData: Sendable {
    let summary: Cached<RunSummary>
    let live: Cached<LiveCounts>
    let attention: Cached<Attention>
    let activity: Cached<[ActivityHour]>
    let spendByTenant: Cached<[SpendTotal]>
    let spendByFeature: Cached<[SpendTotal]>

    /// The counts are the metrics exporter's (one read of a big table serves both).
    init(store: any RunStore, metrics: MetricsExporter) {
        summary = metrics.summary
        live = metrics.live
        attention = Cached(ttl: .seconds(15)) { try await store.attention(now: Date(), limit: 50) }
        activity = Cached(ttl: .seconds(15)) { try await store.activity(since: Self.chartStart(Date())) }
        spendByTenant = Cached(ttl: .seconds(30)) { try await store.spendTotals(by: .tenant, now: Date(), limit: 50) }
        spendByFeature = Cached(ttl: .seconds(30)) { try await store.spendTotals(by: .feature, now: Date(), limit: 50) }
    }

    /// The charts cover the last 24 hours, from the top of an hour.
    static func chartStart(_ now: Date) -> Date {
        Date(timeIntervalSince1970: (floor(now.timeIntervalSince1970 / 3600) - 23) * 3600)
    }
}
