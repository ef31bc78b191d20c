import Foundation
import KilnDomain
import KilnWorker
import Logging
import ServiceLifecycle

/// Long documents: each due parent looks at its children and moves its tree on — releases
/// the next children of its level, starts the next merge level when one ends, finishes with
/// the final merge's output, or fails, cancels or times out the tree.
extension Poller {
    func stepTrees(now: Date, dueBy: Date?, into result: inout PollPassResult) async throws {
        let claimed = try await environment.store.claim(
            .treeStep, owner: environment.owner, limit: settings.batchSize,
            leaseUntil: now.addingTimeInterval(settings.leaseSeconds), now: dueBy ?? now)
        result.claimed += claimed.count
        result.parentsLookedAt += claimed.count
        guard !claimed.isEmpty else { return }
        let outcomes = try await withLeaseRenewal(
            store: environment.store, ids: claimed.map(\.id), owner: environment.owner,
            leaseSeconds: settings.leaseSeconds, logger: environment.logger
        ) {
            try await forEachToTheEnd(claimed, limit: settings.concurrency) { parent in try await self.step(parent) }
        }
        for outcome in outcomes { result.record(outcome) }
    }

    /// One look at a leased parent (read without its input).
    func step(_ parent: Run) async throws -> PollOutcome {
        let clock = environment.clock
        if Task.isShuttingDownGracefully || Task.isCancelled {
            guard let update = RunUpdate.make(.release, on: parent, at: clock.now(), actor: environment.owner) else { return .lostLease }
            return try await environment.store.saveDespiteCancellation(update, logger: environment.logger) ? .released : .lostLease
        }
        let store = environment.store
        let documents = environment.configuration.documents
        let tree = DocumentTree(
            settings: documents, limits: environment.configuration.limits, prices: environment.configuration.prices)
        let now = clock.now()
        let progress = try await store.treeProgress(of: parent.id)
        let level = parent.level ?? 0
        let chunks = progress.count(level: 0)
        let policy: RunPolicy
        switch environment.policy(of: parent) {
        case .success(let resolved): policy = resolved
        case .failure(let error):
            let failure = RunFailure(code: error.code.rawValue, message: error.message, source: .policy)
            return try await end(
                parent, .failed, failure, cancelInFlight: true, tree: tree, policy: environment.configuration.policy, now: now)
        }
        // The deadline the cut recorded (a later configuration does not move it).
        let cut = try await store.events(of: parent.id).last { $0.kind == "expanded" }
        let deadline = DocumentTree.recordedDeadline(cut) ?? tree.deadline(of: parent, chunks: chunks, policy: policy)

        if parent.cancelRequestedAt != nil {
            let failure = RunFailure(code: "cancelled", message: "cancelled by request; the tree's children were cancelled", source: .kiln)
            return try await end(parent, .cancelled, failure, cancelInFlight: true, tree: tree, policy: policy, now: now)
        }
        let timedOut = RunFailure(code: "deadline_exceeded", message: "the document's deadline passed", source: .policy)
        if now >= deadline {
            return try await end(parent, .timedOut, timedOut, cancelInFlight: true, tree: tree, policy: policy, now: now)
        }

        if progress.unsuccessful(level: level) > 0 {
            let children = try await store.treeChildren(of: parent.id, level: level)
            if !(level == 0 && tree.mayLeaveOut(children, policy: policy)),
                let failed = children.first(where: { $0.status.isTerminal && $0.status != .completed })
            {
                // A child's deadline is the tree's (to the second): one that timed out means the tree did.
                if failed.status == .timedOut {
                    return try await end(parent, .timedOut, timedOut, cancelInFlight: true, tree: tree, policy: policy, now: now)
                }
                environment.logger(for: parent).warning("document failed: a child failed", metadata: [LogKey.error: "\(failed.id)"])
                return try await end(
                    parent, .failed, tree.failure(of: failed, mapChildren: chunks), cancelInFlight: false, tree: tree, policy: policy,
                    now: now, reason: "a sibling failed: child run \(failed.id)")
            }
        }

        let nextCheck = now.addingTimeInterval(documents.checkSeconds)
        if progress.finished(level: level) < progress.count(level: level) {
            let room = documents.childrenInFlight - progress.inFlight(level: level)
            var released = 0
            if room > 0, progress.held(level: level) > 0 {
                released = try await store.releaseChildren(of: parent.id, level: level, count: room, now: now)
            }
            let outcome = try await finish(parent, .treeStep(level: level, nextCheckAt: nextCheck))
            return outcome == .rescheduled && released > 0 ? .treeMoved(released: released) : outcome
        }
        return try await levelDone(parent, level: level, tree: tree, policy: policy, cut: cut, now: now, nextCheck: nextCheck)
    }

    /// Ends the parent with `status`: its queued children cancelled (and, when
    /// `cancelInFlight`, those at the provider too), the usage and cost of its tree so far.
    private func end(
        _ parent: Run, _ status: RunStatus, _ failure: RunFailure, cancelInFlight: Bool, tree: DocumentTree, policy: RunPolicy,
        now: Date, reason: String? = nil
    ) async throws -> PollOutcome {
        let store = environment.store
        let why = reason ?? "its document's run \(parent.id) ended \(status.rawValue) (\(failure.code))"
        _ = try await store.cancelChildren(of: parent.id, inFlight: cancelInFlight, reason: why, actor: environment.owner, now: now)
        let all = try await store.treeChildren(of: parent.id, level: nil)
        return try await finish(parent, .finish(tree.outcome(status, output: nil, error: failure, tree: all, policy: policy, now: now)))
    }

    /// Every child of `level` has ended: finish with the final merge, or start the next level.
    private func levelDone(
        _ parent: Run, level: Int, tree: DocumentTree, policy: RunPolicy, cut: RunEvent?, now: Date, nextCheck: Date
    ) async throws -> PollOutcome {
        let store = environment.store
        let documents = environment.configuration.documents
        let children = try await store.treeChildren(of: parent.id, level: level)
        let completed = children.filter { $0.status == .completed }
        let map = level == 0 ? children : try await store.treeChildren(of: parent.id, level: 0)
        let missing = tree.missingRanges(mapChildren: map)
        if level >= 1, children.count == 1, let final = completed.first {
            var output = final.output ?? RunOutput(text: "")
            output.missingRanges = missing.isEmpty ? nil : missing
            let all = try await store.treeChildren(of: parent.id, level: nil)
            // Summaries cut at their max_output_chars on the way up: never a silent loss.
            let cutChars = all.reduce(0) { $0 + ($1.output?.truncatedChars ?? 0) }
            output.truncatedChars = cutChars > 0 ? cutChars : nil
            environment.logger(for: parent).info("document summarized", metadata: ["children": "\(all.count)", "levels": "\(level + 1)"])
            return try await finish(
                parent, .finish(tree.outcome(.completed, output: output, error: nil, tree: all, policy: policy, now: now)))
        }
        let below = level >= 1 ? try await store.treeChildren(of: parent.id, level: level - 1) : nil
        switch tree.next(after: level, children: children, below: below, documentChars: map.last?.charEnd ?? 0) {
        case .fail(let code, let reason):
            let all = try await store.treeChildren(of: parent.id, level: nil)
            let failure = RunFailure(code: code, message: "run \(parent.id): \(reason)", source: .kiln)
            return try await finish(
                parent, .finish(tree.outcome(.failed, output: nil, error: failure, tree: all, policy: policy, now: now)))
        case .reduce(let next, let groups):
            var document: DocumentSummary.Document?
            if groups.count == 1 { document = try await shape(of: parent, cut: cut) }
            let merges = tree.mergeChildren(
                of: parent, policy: policy, level: next, groups: groups, parts: completed, mapChildren: map, document: document,
                missing: missing, now: now)
            guard
                let update = RunUpdate.make(
                    .treeStep(level: next, nextCheckAt: nextCheck), on: parent, at: now, actor: environment.owner,
                    details: ["merges": .number(Double(groups.count)), "final": .bool(groups.count == 1)])
            else { return .lostLease }
            guard try await store.insertChildren(merges, parent: update) else { return .lostLease }
            return .treeMoved(released: min(merges.count, documents.childrenInFlight))
        }
    }

    /// The document's `length` and `audience` for the final merge, as its `expanded` event
    /// recorded them (the text is not read again); from the input for a parent cut without them.
    private func shape(of parent: Run, cut: RunEvent?) async throws -> DocumentSummary.Document? {
        if let cut, let length = cut.details["length"]?.stringValue.flatMap(DocumentSummary.Length.init(rawValue:)) {
            return DocumentSummary.Document(text: "", length: length, audience: cut.details["audience"]?.stringValue)
        }
        guard let full = try await environment.store.run(parent.id, tenant: nil) else { return nil }
        return try? DocumentSummary().document(in: full.input, limits: nil)
    }

    private func finish(_ parent: Run, _ transition: RunTransition) async throws -> PollOutcome {
        guard let update = RunUpdate.make(transition, on: parent, at: environment.clock.now(), actor: environment.owner) else {
            return .lostLease
        }
        guard try await environment.persist(update) else { return .lostLease }
        return update.run.status.isTerminal ? .finalized(update.run.status) : .rescheduled
    }
}
