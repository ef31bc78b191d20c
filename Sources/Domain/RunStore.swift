import Foundation

/// Where runs live: the `ai_runs` and `ai_run_events` tables of one database.
///
/// In domain words; SQL lives only in the store modules. Every store passes the same
/// conformance suite (`Tests/StoreTests`).
public protocol RunStore: Sendable {
    /// Creates or upgrades the tables; safe to call from several processes at once.
    func migrate() async throws

    /// Inserts a new run, or returns the tenant's run with the same idempotency key.
    func insert(_ run: Run, event: RunEvent) async throws -> InsertOutcome

    /// The run with `id`; scoped to `tenant` when one is given (another tenant's run is nil).
    func run(_ id: RunID, tenant: TenantID?) async throws -> Run?

    /// Runs matching `query`, newest first.
    func runs(matching query: RunQuery) async throws -> [Run]

    /// Atomically leases up to `limit` runs that are due for `kind` at `now`, and applies
    /// the kind's transition to each (see ``ClaimKind``). Two claimers never get one run.
    ///
    /// A submission claim with an `admission` applies the tenants' and features' limits
    /// (``QuotaCheck``): an admitted run records its reservation; a run over a cost cap whose
    /// policy says so fails `over_budget`; the runs of a scope a limit holds stay queued, due
    /// again `quotas.check_seconds` later, with their `wait_reason` (and a `held` event when it
    /// is new). Claims with an admission are serialized, so a cap is never overshot by two claims.
    func claim(_ kind: ClaimKind, owner: String, limit: Int, leaseUntil: Date, now: Date, admission: Admission?) async throws -> [Run]

    /// Writes each guarded update with its event, in one transaction; returns, for each,
    /// whether its guard held (false: another process moved the run first).
    func save(_ updates: [RunUpdate]) async throws -> [Bool]

    /// Records the application's request to cancel: sets `cancel_requested_at` (once) and
    /// makes an in-flight run due for its poller now. Nil when no such run for the tenant.
    func requestCancellation(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run?

    /// The audit trail of a run, oldest first.
    func events(of id: RunID) async throws -> [RunEvent]

    /// Writes the app's review decision or display on the tenant's run and returns the run,
    /// or nil when there is no such run. The table refuses a mark on a run that is not
    /// completed and a second review decision (``KilnError/Code/conflict``), and writes the
    /// event (`reviewed`, `displayed`) itself, as it does for a mark written by plain SQL.
    func record(_ mark: RunMark, on id: RunID, tenant: TenantID) async throws -> Run?

    /// Records a verified webhook delivery once (by `webhook-id`, remembered until its
    /// `expiresAt`); when its response is an in-flight run's, makes that run due now.
    func recordWebhook(_ delivery: WebhookDelivery, now: Date) async throws -> WebhookReceipt

    /// Deliveries whose response no in-flight run held when they came, leased to `owner`
    /// until `leaseUntil` for a look at the provider; oldest first.
    func claimUnmatchedWebhooks(owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [WebhookDelivery]

    /// The delivery needs nothing more.
    func markWebhookHandled(_ webhookID: String, now: Date) async throws

    /// Makes the in-flight run holding `response` due for its poller now; its id, or nil.
    func makeDue(response: ResponseID, now: Date) async throws -> RunID?

    /// Records a response a run did not use, once per response: an `orphan_response` event and
    /// its cost added to `orphan_cost_micros`. False when it was recorded before.
    func recordOrphan(_ orphan: OrphanResponse) async throws -> Bool

    /// Writes a tree parent's guarded `update` and inserts its new `children` (each with a
    /// `created` event), in one transaction: all of it, or nothing when the guard failed
    /// (false). A child's (parent, level, chunk index) is unique, so a level is never cut twice.
    func insertChildren(_ children: [Run], parent update: RunUpdate) async throws -> Bool

    /// An operator's retry of a failed or timed-out run (not a long document's): queued again,
    /// attempts start over, the cost it ran up kept in `orphan_cost_micros`, an
    /// `operator_retried` event by `actor`. Nil when the tenant has no such run; ``KilnError/Code/conflict``
    /// when it cannot be retried.
    func retryRun(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run?

    /// Per-tenant overrides of the `quotas` limits (`kiln_tenant_quotas`): one tenant's, or all.
    func tenantQuotas(_ tenant: TenantID?) async throws -> [TenantID: QuotaLimits]

    /// Sets (nil or empty: removes) a tenant's override; its held runs are looked at again now.
    func setTenantQuota(_ tenant: TenantID, _ limits: QuotaLimits?, now: Date) async throws

    /// How many children of `parent` are in each status, per level.
    func treeProgress(of parent: RunID) async throws -> TreeProgress

    /// The children of `parent` (of one `level`, or all), in level and chunk order, without inputs.
    func treeChildren(of parent: RunID, level: Int?) async throws -> [TreeChild]

    /// Makes up to `count` held children of `parent` at `level` available now, in chunk
    /// order; returns how many.
    func releaseChildren(of parent: RunID, level: Int, count: Int, now: Date) async throws -> Int

    /// Cancels the queued children of `parent` (each with a `cancelled` event naming
    /// `reason`) and, when `inFlight`, asks its in-flight children to cancel at the provider.
    func cancelChildren(of parent: RunID, inFlight: Bool, reason: String, actor: String, now: Date) async throws -> TreeCancellation

    /// An operator's retry of a failed tree parent: the parent goes back to `in_progress` and
    /// the children of its current level that ended without a result are queued again (held,
    /// attempts reset, the cost they already ran up kept in `orphan_cost_micros`); finished
    /// children are kept. Returns the parent and how many children were queued, nil when the
    /// tenant has no such run; ``KilnError/Code/conflict`` when it is not a failed tree parent.
    func retryFailedChildren(of parent: RunID, tenant: TenantID, actor: String, now: Date) async throws -> (Run, Int)?

    /// Tokens and cost per tenant, feature, model and UTC day (`kiln_usage_daily`), day by
    /// day, oldest first.
    func spend(_ query: SpendQuery) async throws -> [SpendRow]

    /// The `limit` tenants (or features) that spent most over 30 days, with their cost today, over
    /// 7 and 30 days, summed in the database (the dashboard's cost tables).
    func spendTotals(by dimension: SpendDimension, now: Date, limit: Int) async throws -> [SpendTotal]

    /// Deletes up to `limit` runs that ended before `cutoff` (with their events), in one short
    /// transaction, and returns how many; call again until it returns 0. Kept: a long document's
    /// child while its parent is not finished, a parent while a child is not, and a run whose
    /// response is still to be deleted at the provider (scheduled by an erasure, or — when
    /// `deletingAfterFinalize` — any not deleted yet, unless its deletion was given up). Spend
    /// (``spend(_:)``) is unchanged. Batches (``KilnBatch``) that ended before the cutoff and
    /// hold no run any more go with them.
    func prune(finalizedBefore cutoff: Date, limit: Int, deletingAfterFinalize: Bool) async throws -> Int

    /// Right to erasure: the input and output (and an edited review's output) of `tenant`'s
    /// finished runs — of one `subject`, or all — are erased; each keeps a tombstone (ids, times,
    /// usage, cost, `erased_at`) and gets an `erased` event by `actor`; its response is scheduled
    /// for deletion at the provider. Runs not finished yet are left alone and counted.
    func erase(tenant: TenantID, subject: Subject?, actor: String, now: Date) async throws -> ErasureOutcome

    /// Up to `limit` responses due for deletion at the provider — every finished run's when
    /// `afterFinalize`, else only those an erasure scheduled — held until `leaseUntil` so that
    /// another poller does not delete them too.
    func claimProviderDeletions(afterFinalize: Bool, limit: Int, now: Date, leaseUntil: Date) async throws -> [ProviderDeletion]

    /// Records a deletion: done (deleted, or already gone), or failed and due again at `retryAt`
    /// (nil: given up).
    func recordProviderDeletion(_ run: RunID, deleted: Bool, retryAt: Date?, now: Date) async throws

    /// Counts for `kiln status` and dashboards.
    func summary() async throws -> RunSummary

    /// What is not finished, by status and feature, and the oldest ages: the gauges of
    /// `/metrics`, read through the status index.
    func liveCounts() async throws -> LiveCounts

    /// What needs an operator's eye (the dashboard's "Needs attention"), at most `limit` runs of each kind.
    func attention(now: Date, limit: Int) async throws -> Attention

    /// Runs that ended since `since`, per hour: the dashboard's charts.
    func activity(since: Date) async throws -> [ActivityHour]

    /// Extends the leases `owner` holds on `ids` to `until` (long batches); returns how many
    /// it still held. A renewed poll lease also moves `next_poll_at`, which mirrors it.
    func renewLeases(_ ids: [RunID], owner: String, until: Date) async throws -> Int

    /// Provider run times (seconds from submission to the provider's completion) of the
    /// most recent completed runs of `feature` on `model`, newest first, at most `limit`. A run
    /// whose policy names no model (a row an app inserted with `policy = '{}'`) ran on
    /// `defaultModel`.
    func recentRunDurations(feature: String, model: String, defaultModel: String, limit: Int) async throws -> [Double]

    /// Wake-ups when other processes write — runs arrive, cancels are asked for — (PostgreSQL
    /// `LISTEN/NOTIFY`, SQLite `PRAGMA data_version`); nil where the store has none. Workers
    /// also poll, so this only saves latency.
    func changes() -> AsyncStream<Void>?

    /// The earliest time anything becomes due (queued runs, polls, expiring leases), if any.
    func nextDueDate() async throws -> Date?
}

extension RunStore {
    /// No wake-ups by default.
    public func changes() -> AsyncStream<Void>? { nil }

    /// A claim without limits.
    public func claim(_ kind: ClaimKind, owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [Run] {
        try await claim(kind, owner: owner, limit: limit, leaseUntil: leaseUntil, now: now, admission: nil)
    }

    /// Writes one guarded update; false when another process moved the run first.
    public func save(_ update: RunUpdate) async throws -> Bool {
        try await save([update]).first ?? false
    }
}

/// What an insert did.
public enum InsertOutcome: Sendable {
    case inserted(Run)
    /// The tenant already has a run with this idempotency key; nothing was written.
    case existing(Run)

    public var run: Run {
        switch self {
        case .inserted(let run), .existing(let run): run
        }
    }
}

/// A filter for listing runs (`kiln list`, the dashboard): every field narrows it.
public struct RunQuery: Sendable, Hashable {
    public var tenant: TenantID?
    public var status: RunStatus?
    public var limit: Int
    /// Long documents' children too (by default only the runs the application made).
    public var includeChildren: Bool
    public var feature: String?
    public var subject: Subject?
    /// `error.code` (`over_budget`, `http_503`, …).
    public var errorCode: String?
    /// Created at or after / before.
    public var createdFrom: Date?
    public var createdBefore: Date?
    /// A run id, a response id or an idempotency key, exactly.
    public var search: String?
    /// Runs after this one in the listing's order (newest first): a page's last run.
    public var after: (createdAt: Date, id: RunID)?
    /// Read without `input` (a listing never shows it; a long document's is tens of megabytes).
    public var withoutInput: Bool

    public init(
        tenant: TenantID? = nil, status: RunStatus? = nil, limit: Int = 100, includeChildren: Bool = false, feature: String? = nil,
        subject: Subject? = nil, errorCode: String? = nil, createdFrom: Date? = nil, createdBefore: Date? = nil, search: String? = nil,
        withoutInput: Bool = false
    ) {
        self.tenant = tenant
        self.status = status
        self.limit = limit
        self.includeChildren = includeChildren
        self.feature = feature
        self.subject = subject
        self.errorCode = errorCode
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
        self.search = search
        self.withoutInput = withoutInput
    }

    public static func == (a: RunQuery, b: RunQuery) -> Bool {
        a.tenant == b.tenant && a.status == b.status && a.limit == b.limit && a.includeChildren == b.includeChildren
            && a.feature == b.feature && a.subject == b.subject && a.errorCode == b.errorCode && a.createdFrom == b.createdFrom
            && a.createdBefore == b.createdBefore && a.search == b.search && a.after?.createdAt == b.after?.createdAt
            && a.after?.id == b.after?.id && a.withoutInput == b.withoutInput
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(tenant)
        hasher.combine(status)
        hasher.combine(search)
        hasher.combine(after?.id)
    }
}
