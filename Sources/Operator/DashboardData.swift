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
    let spend: Cached<[SpendRow]>

    init(store: any RunStore) {
        summary = Cached(ttl: .seconds(10)) { try await store.summary() }
        live = Cached(ttl: .seconds(10)) { try await store.liveCounts() }
        attention = Cached(ttl: .seconds(15)) { try await store.attention(now: Date(), limit: 50) }
        activity = Cached(ttl: .seconds(15)) { try await store.activity(since: Self.chartStart(Date())) }
        spend = Cached(ttl: .seconds(30)) { try await store.spend(SpendQuery(since: Date().addingTimeInterval(-30 * 86_400))) }
    }

    /// The charts cover the last 24 hours, from the top of an hour.
    static func chartStart(_ now: Date) -> Date {
        Date(timeIntervalSince1970: (floor(now.timeIntervalSince1970 / 3600) - 23) * 3600)
    }
}
