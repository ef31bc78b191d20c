import Foundation
import KilnDomain
import Synchronization

/// A `RunStore` in memory, for submitter and poller tests that run in milliseconds. It keeps
/// the contract the real stores keep (guarded writes that touch only Kiln's half of the row,
/// one event per write, claims that never hand one run to two owners) and passes the same
/// conformance suite (`Tests/StoreTests`); every end-to-end test still runs on SQLite and
/// PostgreSQL.
public final class InMemoryRunStore: RunStore {
    struct Tables {
        var runs: [RunID: Run] = [:]
        var events: [RunEvent] = []
        var deliveries: [String: Delivery] = [:]
        /// `kiln_usage_daily`, kept as the SQL stores' triggers keep it.
        var usage: [String: SpendRow] = [:]
        /// `provider_delete_after` and `provider_delete_attempts`, by run.
        var deleteAfter: [RunID: Date] = [:]
        var deleteAttempts: [RunID: Int] = [:]
        /// `kiln_tenant_quotas`.
        var quotas: [TenantID: QuotaLimits] = [:]
    }

    struct Delivery {
        var delivery: WebhookDelivery
        var handled = false
        var claimExpiresAt: Date?
    }

    let tables = Mutex(Tables())

    public init() {}

    public func migrate() async throws {}

    /// Changes a stored run outside Kiln, as an application writing the row directly would
    /// (the in-memory store's stand-in for the SQL the other stores' tests run).
    public func edit(_ id: RunID, _ change: (inout Run) -> Void) {
        tables.withLock { tables in
            guard var run = tables.runs[id] else { return }
            change(&run)
            tables.runs[id] = run
        }
    }

    public func insert(_ run: Run, event: RunEvent) async throws -> InsertOutcome {
        tables.withLock { tables in
            if let key = run.idempotencyKey,
                let existing = tables.runs.values.first(where: { $0.tenantID == run.tenantID && $0.idempotencyKey == key })
            {
                return .existing(existing)
            }
            tables.runs[run.id] = run
            Self.append(event, to: &tables)
            return .inserted(run)
        }
    }

    public func run(_ id: RunID, tenant: TenantID?) async throws -> Run? {
        tables.withLock { tables in
            guard let run = tables.runs[id], tenant == nil || run.tenantID == tenant else { return nil }
            return run
        }
    }

    public func runs(matching query: RunQuery) async throws -> [Run] {
        tables.withLock { tables in
            tables.runs.values
                .filter { (query.tenant == nil || $0.tenantID == query.tenant) && (query.status == nil || $0.status == query.status) }
                .filter { query.includeChildren || $0.parentRunID == nil }
                .filter { Self.matches($0, query) }
                .sorted { ($0.createdAt, $0.id.rawValue) > ($1.createdAt, $1.id.rawValue) }
                .prefix(query.limit).map { run in
                    var listed = run
                    if query.withoutInput { listed.input = .object([:]) }
                    return listed
                }
        }
    }

    public func claim(
        _ kind: ClaimKind, owner: String, limit: Int, leaseUntil: Date, now: Date, admission: Admission?
    ) async throws -> [Run] {
        // Suspend as a database round trip would, so that concurrent claimers interleave.
        await Task.yield()
        return tables.withLock { tables in
            if kind == .submission {
                // Round-robin across tenants, as the SQL stores claim (``FairShare``).
                let due = tables.runs.values.filter { $0.status == .queued && $0.availableAt <= now }
                let queues = Dictionary(grouping: due, by: \.tenantID).values
                    .map { $0.sorted { ($0.availableAt, $0.id.rawValue) < ($1.availableAt, $1.id.rawValue) } }
                    .sorted { ($0[0].availableAt, $0[0].tenantID.rawValue) < ($1[0].availableAt, $1[0].tenantID.rawValue) }
                let candidates = FairShare.interleave(queues, limit: limit)
                guard let admission else {
                    return candidates.compactMap { run in
                        guard let update = kind.update(claiming: run, owner: owner, leaseUntil: leaseUntil, now: now),
                            Self.write(update, to: &tables)
                        else { return nil }
                        return update.run
                    }
                }
                return Self.claimAdmitted(candidates, admission: admission, owner: owner, leaseUntil: leaseUntil, now: now, in: &tables)
            }
            let due: [(Date, Run)] = tables.runs.values.compactMap { run in
                switch kind {
                case .submission: run.status == .queued && run.availableAt <= now ? (run.availableAt, run) : nil
                case .abandonedSubmission:
                    run.status == .submitting && (run.leaseExpiresAt ?? .distantFuture) <= now ? (run.leaseExpiresAt!, run) : nil
                case .poll:
                    run.status == .inProgress && !run.isTreeParent && (run.nextPollAt ?? .distantFuture) <= now
                        ? (run.nextPollAt!, run) : nil
                case .treeStep:
                    run.status == .inProgress && run.isTreeParent && (run.nextPollAt ?? .distantFuture) <= now
                        ? (run.nextPollAt!, run) : nil
                }
            }
            return due.sorted { ($0.0, $0.1.id.rawValue) < ($1.0, $1.1.id.rawValue) }.prefix(limit).compactMap { _, run in
                guard let update = kind.update(claiming: run, owner: owner, leaseUntil: leaseUntil, now: now),
                    Self.write(update, to: &tables)
                else { return nil }
                var claimed = update.run
                if kind == .treeStep { claimed.input = .object([:]) }  // as the SQL stores read a parent
                return claimed
            }
        }
    }

    public func save(_ updates: [RunUpdate]) async throws -> [Bool] {
        tables.withLock { tables in updates.map { Self.write($0, to: &tables) } }
    }

    public func requestCancellation(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run? {
        tables.withLock { tables in
            guard let run = tables.runs[id], run.tenantID == tenant else { return nil }
            guard let update = RunUpdate.make(.requestCancellation, on: run, at: now, actor: actor) else { return run }
            var stored = run
            stored.cancelRequestedAt = update.run.cancelRequestedAt
            stored.nextPollAt = update.run.nextPollAt
            stored.updatedAt = now
            tables.runs[id] = stored
            if let event = update.event { Self.append(event, to: &tables) }
            return stored
        }
    }

    public func recordWebhook(_ delivery: WebhookDelivery, now: Date) async throws -> WebhookReceipt {
        tables.withLock { tables in
            tables.deliveries = tables.deliveries.filter { $0.value.delivery.expiresAt >= now }
            guard tables.deliveries[delivery.webhookID] == nil else { return .duplicate }
            tables.deliveries[delivery.webhookID] = Delivery(delivery: delivery)
            guard let response = delivery.responseID else {
                tables.deliveries[delivery.webhookID]?.handled = true
                return .ignored
            }
            guard let id = Self.makeDue(response, now: now, in: &tables) else { return .unmatched }
            tables.deliveries[delivery.webhookID]?.handled = true
            return .madeDue(id)
        }
    }

    public func claimUnmatchedWebhooks(owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [WebhookDelivery] {
        tables.withLock { tables in
            let due = tables.deliveries.values.filter { !$0.handled && ($0.claimExpiresAt ?? now) <= now }
                .sorted { $0.delivery.receivedAt < $1.delivery.receivedAt }.prefix(limit)
            for entry in due { tables.deliveries[entry.delivery.webhookID]?.claimExpiresAt = leaseUntil }
            return due.map(\.delivery)
        }
    }

    public func markWebhookHandled(_ webhookID: String, now: Date) async throws {
        tables.withLock { tables in tables.deliveries[webhookID]?.handled = true }
    }

    public func makeDue(response: ResponseID, now: Date) async throws -> RunID? {
        tables.withLock { tables in Self.makeDue(response, now: now, in: &tables) }
    }

    public func recordOrphan(_ orphan: OrphanResponse) async throws -> Bool {
        tables.withLock { tables in
            guard var run = tables.runs[orphan.runID] else { return false }
            let seen = tables.events.contains {
                $0.runID == orphan.runID && $0.kind == "orphan_response"
                    && $0.details["response_id"]?.stringValue == orphan.responseID.rawValue
            }
            if seen { return false }
            run.orphanCostMicros += orphan.costMicros
            run.updatedAt = orphan.at
            tables.runs[orphan.runID] = run
            Self.count(run, day: orphan.at, runs: 0, usage: nil, cost: orphan.costMicros, in: &tables)
            Self.append(orphan.event, to: &tables)
            return true
        }
    }

    private static func makeDue(_ response: ResponseID, now: Date, in tables: inout Tables) -> RunID? {
        guard var run = tables.runs.values.first(where: { $0.responseID == response && $0.status == .inProgress }) else { return nil }
        if run.leaseOwner != nil, (run.leaseExpiresAt ?? now) > now { return nil }
        if (run.nextPollAt ?? .distantFuture) > now {
            run.nextPollAt = now
            tables.runs[run.id] = run
        }
        return run.id
    }

    /// Mimics the contract's triggers (``RunMark/refusal(on:)``, ``RunMark/event(on:)``).
    public func record(_ mark: RunMark, on id: RunID, tenant: TenantID) async throws -> Run? {
        try tables.withLock { tables throws(KilnError) -> Run? in
            guard var run = tables.runs[id], run.tenantID == tenant else { return nil }
            if let refusal = mark.refusal(on: run) {
                throw KilnError(.conflict, "could not record a \(mark.kind) on run \(id): \(refusal)")
            }
            let event = mark.event(on: run)
            switch mark {
            case .review(let decision, let by, let at):
                run.reviewState = decision.reviewState
                run.reviewedBy = by
                run.reviewedOutput = decision.reviewedOutput
                run.reviewedAt = at
                run.updatedAt = at
            case .displayed(let by, let at):
                run.displayedAt = at
                run.displayedBy = by
                run.updatedAt = at
            }
            tables.runs[id] = run
            Self.append(event, to: &tables)
            return run
        }
    }

    public func events(of id: RunID) async throws -> [RunEvent] {
        tables.withLock { tables in tables.events.filter { $0.runID == id } }
    }

    public func summary() async throws -> RunSummary {
        tables.withLock { tables in
            let runs = tables.runs.values.filter { $0.parentRunID == nil }
            let children = tables.runs.values.filter { $0.parentRunID != nil }
            let counts = Dictionary(grouping: runs, by: \.status.rawValue).mapValues(\.count)
            let orphanCost = tables.runs.values.map(\.orphanCostMicros).reduce(0, +)
            var summary = RunSummary(
                counts: counts, oldestQueuedAt: runs.filter { $0.status == .queued }.map(\.createdAt).min(),
                inFlight: runs.filter { $0.status == .submitting || $0.status == .inProgress }.count,
                costMicros: tables.runs.values.filter { !$0.isTreeParent }.compactMap(\.costMicros).reduce(0, +) + orphanCost,
                possibleDuplicates: tables.events.filter { $0.kind == "possible_duplicate" }.count,
                orphanResponses: tables.events.filter { $0.kind == "orphan_response" }.count, orphanCostMicros: orphanCost)
            summary.childCounts = Dictionary(grouping: children, by: \.status.rawValue).mapValues(\.count)
            let waiting = tables.runs.values.filter { $0.status == .queued }.compactMap(\.waitReason)
            summary.waiting = Dictionary(grouping: waiting, by: { $0 }).mapValues(\.count)
            summary.providerDeletionsGivenUp =
                tables.deleteAfter.filter { id, after in
                    after >= DocumentTree.heldUntil && tables.runs[id]?.providerDeletedAt == nil && tables.runs[id]?.responseID != nil
                }.count
            summary.quotaExhaustedAt = tables.events.filter { $0.kind == "quota_exhausted" }.map(\.at).max()
            return summary
        }
    }

    public func renewLeases(_ ids: [RunID], owner: String, until: Date) async throws -> Int {
        tables.withLock { tables in
            var renewed = 0
            for id in ids where tables.runs[id]?.leaseOwner == owner {
                tables.runs[id]?.leaseExpiresAt = until
                if tables.runs[id]?.status == .inProgress { tables.runs[id]?.nextPollAt = until }
                renewed += 1
            }
            return renewed
        }
    }

    public func recentRunDurations(feature: String, model: String, defaultModel: String, limit: Int) async throws -> [Double] {
        tables.withLock { tables in
            tables.runs.values
                .filter { run in
                    let runModel = run.policy.objectValue?["model"]?.stringValue ?? defaultModel
                    return run.status == .completed && run.feature == feature && runModel == model && !run.isTreeParent
                        && run.submittedAt != nil && run.providerCompletedAt != nil
                }
                .sorted { ($0.finalizedAt ?? .distantPast) > ($1.finalizedAt ?? .distantPast) }
                .prefix(limit).map { $0.providerCompletedAt!.timeIntervalSince($0.submittedAt!) }
        }
    }

    public func nextDueDate() async throws -> Date? {
        tables.withLock { tables in
            tables.runs.values.compactMap { run -> Date? in
                switch run.status {
                case .queued: run.availableAt
                case .inProgress: run.nextPollAt
                case .submitting: run.leaseExpiresAt
                default: nil
                }
            }.min()
        }
    }

    /// The guarded update: Kiln's half of the row, only while the row has the expected
    /// status and lease owner.
    static func write(_ update: RunUpdate, to tables: inout Tables) -> Bool {
        guard guardHolds(update, in: tables), var stored = tables.runs[update.run.id] else { return false }
        let next = update.run
        let finished = !stored.status.isTerminal && next.status.isTerminal
        let finishedChild = stored.parentRunID != nil && finished
        stored.level = next.level
        stored.status = next.status
        stored.attempt = next.attempt
        stored.responseID = next.responseID
        stored.providerStatus = next.providerStatus
        stored.output = next.output
        stored.error = next.error
        stored.usage = next.usage
        stored.costMicros = next.costMicros
        stored.pollCount = next.pollCount
        stored.nextPollAt = next.nextPollAt
        stored.availableAt = next.availableAt
        stored.leaseOwner = next.leaseOwner
        if !update.keepsLease || (stored.leaseExpiresAt ?? .distantPast) <= (next.leaseExpiresAt ?? .distantPast) {
            stored.leaseExpiresAt = next.leaseExpiresAt
        }
        stored.reviewState = next.reviewState ?? stored.reviewState
        stored.promptVersion = next.promptVersion
        stored.sendStartedAt = next.sendStartedAt
        stored.submittedAt = next.submittedAt
        stored.providerStartedAt = next.providerStartedAt
        stored.providerCompletedAt = next.providerCompletedAt
        stored.finalizedAt = next.finalizedAt
        stored.updatedAt = next.updatedAt
        stored.waitReason = next.waitReason
        stored.reservedCostMicros = next.reservedCostMicros
        stored.batchID = next.batchID
        tables.runs[stored.id] = stored
        if let event = update.event { append(event, to: &tables) }
        if finishedChild, let parentID = stored.parentRunID { parentDue(parentID, at: next.updatedAt, in: &tables) }
        if finished {
            let parent = stored.isTreeParent
            Self.count(
                stored, day: stored.finalizedAt ?? stored.updatedAt, runs: stored.parentRunID == nil ? 1 : 0,
                usage: parent ? nil : stored.usage, cost: parent ? 0 : (stored.costMicros ?? 0), in: &tables)
        }
        return true
    }

    /// What the SQL stores' usage triggers add to `kiln_usage_daily`.
    static func count(_ run: Run, day: Date, runs: Int, usage: RunUsage?, cost: Int64, in tables: inout Tables) {
        let feature = run.parentRunID.flatMap { tables.runs[$0]?.feature } ?? run.feature
        let model = run.policy["model"]?.stringValue ?? ""
        let dayText = String(Timestamp.format(day).prefix(10))
        let key = [dayText, run.tenantID.rawValue, feature, model].joined(separator: "|")
        var row =
            tables.usage[key]
            ?? SpendRow(
                day: dayText, tenantID: run.tenantID, feature: feature, model: model, runs: 0, inputTokens: 0, outputTokens: 0,
                cachedInputTokens: 0, reasoningTokens: 0, costMicros: 0)
        row.runs += runs
        row.inputTokens += usage?.inputTokens ?? 0
        row.outputTokens += usage?.outputTokens ?? 0
        row.cachedInputTokens += usage?.cachedInputTokens ?? 0
        row.reasoningTokens += usage?.reasoningTokens ?? 0
        row.costMicros += cost
        tables.usage[key] = row
    }

    /// Whether the row still has the status, lease owner and attempt `update` expects.
    static func guardHolds(_ update: RunUpdate, in tables: Tables) -> Bool {
        guard let stored = tables.runs[update.run.id] else { return false }
        return stored.status == update.expectedStatus && stored.leaseOwner == update.expectedLeaseOwner
            && (update.expectedAttempt.map { $0 == stored.attempt } ?? true)
    }

    /// What the stores' `ai_runs_child_finished` trigger does: a child that ended makes its
    /// parent due, unless a worker holds the parent.
    static func parentDue(_ id: RunID, at now: Date, in tables: inout Tables) {
        guard var parent = tables.runs[id], parent.status == .inProgress, parent.leaseOwner == nil,
            (parent.nextPollAt ?? .distantPast) > now
        else { return }
        parent.nextPollAt = now
        tables.runs[id] = parent
    }

    static func append(_ event: RunEvent, to tables: inout Tables) {
        var event = event
        event.id = Int64(tables.events.count + 1)
        tables.events.append(event)
    }
}
