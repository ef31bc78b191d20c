import Foundation
import KilnDomain

/// What operators read and do, as the SQL stores answer it.
extension InMemoryRunStore {
    static func matches(_ run: Run, _ query: RunQuery) -> Bool {
        if let feature = query.feature, run.feature != feature { return false }
        if let subject = query.subject, run.subject != subject { return false }
        if let code = query.errorCode, run.error?.code != code { return false }
        if let from = query.createdFrom, run.createdAt < from { return false }
        if let before = query.createdBefore, run.createdAt >= before { return false }
        if let search = query.search, run.id.rawValue != search, run.responseID?.rawValue != search, run.idempotencyKey != search {
            return false
        }
        if let after = query.after, (run.createdAt, run.id.rawValue) >= (after.createdAt, after.id.rawValue) { return false }
        return true
    }

    /// The deadline the SQL stores read from the row: `created_at` + the stored policy's
    /// `deadline_seconds` (one hour when it names none).
    static func storedDeadline(_ run: Run) -> Date {
        run.createdAt.addingTimeInterval(Double(run.policy["deadline_seconds"]?.intValue ?? 3600))
    }

    public func liveCounts() async throws -> LiveCounts {
        tables.withLock { tables in
            let open = tables.runs.values.filter { !$0.status.isTerminal }
            let grouped = Dictionary(grouping: open) { "\($0.status.rawValue)|\($0.feature)" }
            let rows = grouped.values.map { LiveCounts.Row(status: $0[0].status, feature: $0[0].feature, count: $0.count) }
            return LiveCounts(
                rows: rows, oldestQueuedAt: open.filter { $0.status == .queued }.map(\.createdAt).min(),
                oldestInFlightSince: open.filter { $0.status != .queued }.map { $0.submittedAt ?? $0.updatedAt }.min())
        }
    }

    public func attention(now: Date, limit: Int) async throws -> Attention {
        tables.withLock { tables in
            var attention = Attention()
            func latest(_ kind: String) -> [RunID] {
                var seen: [RunID] = []
                for event in tables.events.reversed() where event.kind == kind && !seen.contains(event.runID) { seen.append(event.runID) }
                return Array(seen.prefix(limit))
            }
            attention.possibleDuplicates = latest("possible_duplicate")
            attention.orphans = latest("orphan_response")
            let runs = tables.runs.values.sorted { $0.createdAt < $1.createdAt }
            attention.stuck = Array(
                runs.filter {
                    ($0.status == .submitting && ($0.leaseExpiresAt ?? .distantFuture) < now)
                        || ($0.status == .inProgress && ($0.nextPollAt ?? .distantFuture) < now.addingTimeInterval(-300))
                }.prefix(limit))
            attention.nearDeadline = Array(
                runs.filter { !$0.status.isTerminal && !$0.isTreeParent && Self.storedDeadline($0) < now.addingTimeInterval(900) }.prefix(
                    limit))
            let failed = runs.filter { $0.status == .failed && ($0.finalizedAt ?? .distantPast) >= now.addingTimeInterval(-7 * 86_400) }
            attention.failuresByCode = Dictionary(grouping: failed) { $0.error?.code ?? "?" }.map { (code: $0.key, count: $0.value.count) }
                .sorted { ($0.count, $1.code) > ($1.count, $0.code) }
            attention.waiting = Array(runs.filter { $0.status == .queued && $0.waitReason != nil }.prefix(limit))
            return attention
        }
    }

    public func activity(since: Date) async throws -> [ActivityHour] {
        tables.withLock { tables in
            let ended = tables.runs.values.filter { ($0.finalizedAt ?? .distantPast) >= since }
            let byHour = Dictionary(grouping: ended) { floor($0.finalizedAt!.timeIntervalSince1970 / 3600) }
            return byHour.keys.sorted().map { key in
                let runs = byHour[key]!
                let lags = runs.compactMap { run in run.providerCompletedAt.map { run.finalizedAt!.timeIntervalSince($0) } }
                return ActivityHour(
                    hour: Date(timeIntervalSince1970: key * 3600), completed: runs.filter { $0.status == .completed }.count,
                    failed: runs.filter { $0.status == .failed }.count,
                    other: runs.filter { $0.status != .completed && $0.status != .failed }.count,
                    meanLagSeconds: lags.isEmpty ? nil : lags.reduce(0, +) / Double(lags.count))
            }
        }
    }

    public func retryRun(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run? {
        try tables.withLock { tables throws(KilnError) -> Run? in
            guard let run = tables.runs[id], run.tenantID == tenant else { return nil }
            guard let update = RunUpdate.make(.operatorRetry, on: run, at: now, actor: actor) else {
                throw KilnError(.conflict, "run \(id) is \(run.status.rawValue); only a failed or timed-out run can be retried")
            }
            tables.runs[id] = update.run
            if let event = update.event { Self.append(event, to: &tables) }
            return update.run
        }
    }
}

extension InMemoryRunStore {
    public func spendTotals(by dimension: SpendDimension, now: Date, limit: Int) async throws -> [SpendTotal] {
        let (today, week, month) = SpendTotal.days(now)
        return tables.withLock { tables in
            var totals: [String: SpendTotal] = [:]
            for row in tables.usage.values where row.day >= month {
                let key = dimension == .tenant ? row.tenantID.rawValue : row.feature
                var total = totals[key] ?? SpendTotal(key: key, todayMicros: 0, weekMicros: 0, monthMicros: 0, runs: 0)
                if row.day == today { total.todayMicros += row.costMicros }
                if row.day >= week { total.weekMicros += row.costMicros }
                total.monthMicros += row.costMicros
                total.runs += row.runs
                totals[key] = total
            }
            return Array(totals.values.sorted { ($0.monthMicros, $1.key) > ($1.monthMicros, $0.key) }.prefix(limit))
        }
    }
}
