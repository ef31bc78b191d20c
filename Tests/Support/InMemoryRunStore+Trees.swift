import Foundation
import KilnDomain

/// Long documents' trees in memory, as the SQL stores keep them.
extension InMemoryRunStore {
    public func insertChildren(_ children: [Run], parent update: RunUpdate) async throws -> Bool {
        await Task.yield()
        return try tables.withLock { tables throws(KilnError) in
            // The guard first, as the SQL stores write the parent's update before the children.
            guard Self.guardHolds(update, in: tables) else { return false }
            let taken = children.contains { child in
                tables.runs.values.contains {
                    $0.parentRunID == child.parentRunID && $0.level == child.level && $0.chunkIndex == child.chunkIndex
                }
            }
            if taken {  // the unique (parent, level, chunk) index of the SQL stores
                throw KilnError(.conflict, "a child of run \(update.run.id) with this level and chunk exists")
            }
            guard Self.write(update, to: &tables) else { return false }
            for child in children {
                tables.runs[child.id] = child
                Self.append(RunEvent.childEnqueued(child, actor: update.event?.actor ?? "kiln"), to: &tables)
            }
            return true
        }
    }

    public func treeProgress(of parent: RunID) async throws -> TreeProgress {
        tables.withLock { tables in
            let children = tables.runs.values.filter { $0.parentRunID == parent }
            let groups = Dictionary(grouping: children) { child in
                TreeProgress.Count(
                    level: child.level ?? 0, status: child.status,
                    held: child.status == .queued && child.availableAt == DocumentTree.heldUntil, count: 0)
            }
            return TreeProgress(
                counts: groups.map { key, members in
                    var count = key
                    count.count = members.count
                    return count
                })
        }
    }

    public func treeChildren(of parent: RunID, level: Int?) async throws -> [TreeChild] {
        tables.withLock { tables in
            tables.runs.values.filter { $0.parentRunID == parent && (level == nil || $0.level == level) }
                .sorted { ($0.level ?? 0, $0.chunkIndex ?? 0) < ($1.level ?? 0, $1.chunkIndex ?? 0) }
                .map { run in
                    TreeChild(
                        id: run.id, level: run.level ?? 0, chunkIndex: run.chunkIndex ?? 0, status: run.status,
                        charStart: run.charStart ?? 0, charEnd: run.charEnd ?? 0, output: run.output, error: run.error,
                        usage: run.usage, costMicros: run.costMicros ?? 0, orphanCostMicros: run.orphanCostMicros)
                }
        }
    }

    public func releaseChildren(of parent: RunID, level: Int, count: Int, now: Date) async throws -> Int {
        tables.withLock { tables in
            let held = tables.runs.values.filter {
                $0.parentRunID == parent && $0.level == level && $0.status == .queued && $0.availableAt == DocumentTree.heldUntil
            }.sorted { ($0.chunkIndex ?? 0) < ($1.chunkIndex ?? 0) }.prefix(max(0, count))
            for child in held { tables.runs[child.id]?.availableAt = now }
            return held.count
        }
    }

    public func cancelChildren(
        of parent: RunID, inFlight: Bool, reason: String, actor: String, now: Date
    ) async throws -> TreeCancellation {
        tables.withLock { tables in
            var result = TreeCancellation(cancelled: 0, requested: 0)
            for var child in tables.runs.values where child.parentRunID == parent {
                if child.status == .queued {
                    Self.append(
                        RunEvent(runID: child.id, fromStatus: .queued, toStatus: .cancelled, at: now, actor: actor, kind: "cancelled"),
                        to: &tables)
                    child.status = .cancelled
                    child.error = RunFailure(code: "cancelled", message: reason, source: .kiln)
                    child.finalizedAt = now
                    child.updatedAt = now
                    result.cancelled += 1
                } else if inFlight, child.status == .submitting || child.status == .inProgress, child.cancelRequestedAt == nil {
                    Self.append(
                        RunEvent(
                            runID: child.id, fromStatus: child.status, toStatus: child.status, at: now, actor: actor,
                            kind: "cancel_requested"),
                        to: &tables)
                    child.cancelRequestedAt = now
                    if child.status == .inProgress, child.leaseOwner == nil, (child.nextPollAt ?? now) > now { child.nextPollAt = now }
                    result.requested += 1
                } else {
                    continue
                }
                tables.runs[child.id] = child
            }
            return result
        }
    }

    public func retryFailedChildren(of parent: RunID, tenant: TenantID, actor: String, now: Date) async throws -> (Run, Int)? {
        try tables.withLock { tables throws(KilnError) -> (Run, Int)? in
            guard let run = tables.runs[parent], run.tenantID == tenant else { return nil }
            guard run.isTreeParent, let update = RunUpdate.make(.resumeTree, on: run, at: now, actor: actor),
                Self.write(update, to: &tables)
            else {
                throw KilnError(
                    .conflict, "run \(parent) is not a failed long-document parent (status \(run.status.rawValue)); nothing to retry")
            }
            var retried = 0
            for child in tables.runs.values where child.parentRunID == parent && child.level == run.level {
                guard let next = RunTransition.retryChild.apply(to: child, at: now) else { continue }
                Self.append(
                    RunEvent(runID: child.id, fromStatus: child.status, toStatus: .queued, at: now, actor: actor, kind: "retried"),
                    to: &tables)
                tables.runs[child.id] = next
                tables.deleteAfter[child.id] = nil
                tables.deleteAttempts[child.id] = nil
                retried += 1
            }
            return (update.run, retried)
        }
    }
}

/// Spend and pruning in memory, as the SQL stores keep them.
extension InMemoryRunStore {
    public func spend(_ query: SpendQuery) async throws -> [SpendRow] {
        tables.withLock { tables in
            tables.usage.values
                .filter { $0.day >= query.sinceDay && (query.tenant == nil || $0.tenantID == query.tenant) }
                .filter { query.feature == nil || $0.feature == query.feature }
                .sorted { ($0.day, $0.tenantID.rawValue, $0.feature, $0.model) < ($1.day, $1.tenantID.rawValue, $1.feature, $1.model) }
        }
    }

    public func prune(finalizedBefore cutoff: Date, limit: Int, deletingAfterFinalize: Bool) async throws -> Int {
        tables.withLock { tables in
            let old = tables.runs.values.filter { run in
                guard let finalized = run.finalizedAt, finalized < cutoff, run.status.isTerminal else { return false }
                if tables.runs.values.contains(where: { $0.parentRunID == run.id && !$0.status.isTerminal }) { return false }
                if run.responseID != nil, run.providerDeletedAt == nil {
                    let after = tables.deleteAfter[run.id]
                    let gaveUp = after == DocumentTree.heldUntil
                    if !gaveUp && (after != nil || deletingAfterFinalize) { return false }
                }
                guard let parent = run.parentRunID.flatMap({ tables.runs[$0] }) else { return true }
                return parent.status.isTerminal
            }.sorted { ($0.finalizedAt ?? .distantPast) < ($1.finalizedAt ?? .distantPast) }.prefix(limit)
            let ids = Set(old.map(\.id))
            for id in ids { tables.runs[id] = nil }
            tables.events.removeAll { ids.contains($0.runID) }
            return ids.count
        }
    }
}

/// Erasure and provider deletions in memory, as the SQL stores keep them.
extension InMemoryRunStore {
    public func erase(tenant: TenantID, subject: Subject?, actor: String, now: Date) async throws -> ErasureOutcome {
        tables.withLock { tables in
            let matched = tables.runs.values.filter {
                $0.tenantID == tenant && (subject == nil || $0.subject == subject) && $0.erasedAt == nil
            }
            var erased = 0
            for var run in matched where run.status.isTerminal {
                if let parent = run.parentRunID.flatMap({ tables.runs[$0] }), !parent.status.isTerminal { continue }
                Self.append(
                    RunEvent(runID: run.id, fromStatus: run.status, toStatus: run.status, at: now, actor: actor, kind: "erased"),
                    to: &tables)
                run.input = ["erased": true]
                run.output = nil
                run.reviewedOutput = nil
                run.erasedAt = now
                run.updatedAt = now
                if run.responseID != nil, run.providerDeletedAt == nil { tables.deleteAfter[run.id] = now }
                tables.runs[run.id] = run
                erased += 1
            }
            return ErasureOutcome(erased: erased, stillRunning: matched.count - erased)
        }
    }

    public func claimProviderDeletions(afterFinalize: Bool, limit: Int, now: Date, leaseUntil: Date) async throws -> [ProviderDeletion] {
        tables.withLock { tables in
            let due = tables.runs.values.compactMap { run -> (Date, ProviderDeletion)? in
                guard run.providerDeletedAt == nil, let response = run.responseID, let finalized = run.finalizedAt else { return nil }
                let after = tables.deleteAfter[run.id]
                guard afterFinalize || after != nil, (after ?? finalized) <= now else { return nil }
                return (
                    after ?? finalized, ProviderDeletion(runID: run.id, responseID: response, attempts: tables.deleteAttempts[run.id] ?? 0)
                )
            }.sorted { $0.0 < $1.0 }.prefix(limit).map(\.1)
            for deletion in due { tables.deleteAfter[deletion.runID] = leaseUntil }
            return Array(due)
        }
    }

    public func recordProviderDeletion(_ run: RunID, deleted: Bool, retryAt: Date?, now: Date) async throws {
        tables.withLock { tables in
            if deleted {
                tables.runs[run]?.providerDeletedAt = now
                tables.deleteAfter[run] = nil
            } else {
                tables.deleteAttempts[run, default: 0] += 1
                tables.deleteAfter[run] = retryAt ?? DocumentTree.heldUntil
            }
        }
    }
}
