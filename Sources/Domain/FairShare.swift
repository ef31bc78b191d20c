import Synchronization

/// Fair share between tenants when queued runs are claimed: one tenant's backlog of 10,000
/// runs does not hold every submitter slot while other tenants' single runs wait behind it.
///
/// Stores find the tenants with due runs (a skip scan of the `(tenant_id, available_at)`
/// index, so never the whole backlog) starting after the tenant served last, read each one's
/// oldest due runs, and take them round-robin: the first of every tenant (longest-waiting
/// tenant first), then the second of every tenant, and so on.
public enum FairShare {
    /// Round-robin over `queues` (each tenant's due runs, oldest first; tenants in the order
    /// they should be served), at most `limit` in all.
    public static func interleave<T>(_ queues: [[T]], limit: Int) -> [T] {
        var picked: [T] = []
        var round = 0
        while picked.count < limit {
            var any = false
            for queue in queues where round < queue.count {
                any = true
                picked.append(queue[round])
                if picked.count == limit { break }
            }
            if !any { break }
            round += 1
        }
        return picked
    }

    /// The tenants a claim serves, given the due tenants after the last one served (`after`)
    /// and those from the start (`wrapped`, for when the first list is short): at most `limit`.
    public static func rotation(after: [String], wrapped: [String], limit: Int) -> [String] {
        var tenants = Array(after.prefix(limit))
        for tenant in wrapped where tenants.count < limit && !tenants.contains(tenant) { tenants.append(tenant) }
        return tenants
    }
}

/// The tenant a process's last submission claim served last: where its next claim starts,
/// so tenants beyond the first `limit` are reached too.
public final class FairShareCursor: Sendable {
    private let last = Mutex<String?>(nil)

    public init() {}

    public var tenant: String? {
        get { last.withLock { $0 } }
        set { last.withLock { $0 = newValue } }
    }
}
