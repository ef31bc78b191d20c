import Foundation
import KilnDomain
import Testing

/// A long document's tree in every store: children written with their parent's step or not at
/// all, cut once, released in chunk order, cancelled and retried set-based, and a child that
/// ends waking its parent.
@Suite("RunStore: long documents' trees")
struct TreeStoreTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let tree = DocumentTree(
        settings: {
            var settings = DocumentSettings()
            settings.chunkChars = 1_000
            settings.childrenInFlight = 2
            return settings
        }(), limits: InputLimits(maxInputChars: 2_000), prices: [:])

    /// A parent claimed for submission and its five map children, not yet written.
    func parentAndChildren(_ store: any RunStore) async throws -> (Run, RunUpdate, [Run]) {
        let text = (1...5).map { "Paragraph \($0) " + String(repeating: "word ", count: 180) }.joined(separator: "\n\n")
        _ = try await store.insert(
            Run(
                id: RunID("run_parent"), tenantID: TenantID("t1"), feature: "document_summary", input: ["text": .string(text)],
                createdAt: now),
            event: RunEvent(runID: RunID("run_parent"), fromStatus: nil, toStatus: .queued, at: now, actor: "test", kind: "enqueued"))
        let claimed = try #require(try await store.claim(.submission, owner: "w", limit: 1, leaseUntil: now + 60, now: now).first)
        let document = try DocumentSummary().document(in: claimed.input, limits: nil)
        let expansion = try tree.expand(claimed, document: document, policy: RunPolicy(), now: now)
        let update = try #require(RunUpdate.make(.expand(nextCheckAt: now + 15), on: claimed, at: now, actor: "w"))
        return (claimed, update, expansion.children)
    }

    @Test(arguments: StoreKind.allCases)
    func childrenAreWrittenWithTheirParentsStepOnce(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let (parent, update, children) = try await parentAndChildren(f.store)
        #expect(children.count == 5)
        #expect(try await f.store.insertChildren(children, parent: update))
        // A second cut (a worker whose lease was lost) writes nothing: its guard fails.
        let again = children.map { child in
            var copy = child
            copy.id = RunID("run_again_\(child.chunkIndex ?? 0)")
            return copy
        }
        #expect(try await !f.other.insertChildren(again, parent: update))
        // Even with a guard that holds, a chunk is never cut twice: (parent, level, chunk) is
        // unique, and the whole step is refused — the parent's move included.
        let current = try #require(try await f.store.run(parent.id, tenant: nil))
        let step = try #require(RunUpdate.make(.treeStep(level: 1, nextCheckAt: now + 30), on: current, at: now, actor: "w"))
        await #expect(throws: (any Error).self) { _ = try await f.other.insertChildren(again, parent: step) }
        #expect(try await f.store.run(parent.id, tenant: nil)?.level == 0, "nothing of the refused step was written")
        #expect(try await f.store.treeChildren(of: parent.id, level: nil).count == 5)
        let stored = try #require(try await f.store.run(parent.id, tenant: nil))

        #expect(stored.status == .inProgress)
        #expect(stored.isTreeParent)
        let progress = try await f.store.treeProgress(of: parent.id)
        #expect(progress.count(level: 0) == 5)
        #expect(progress.inFlight(level: 0) == 2)
        #expect(progress.held(level: 0) == 3)
        let read = try await f.store.treeChildren(of: parent.id, level: 0)
        #expect(read.map(\.chunkIndex) == [0, 1, 2, 3, 4])
        #expect(read.first?.charStart == 0)
        #expect(zip(read, read.dropFirst()).allSatisfy { $0.charEnd == $1.charStart }, "contiguous, no overlap")
        #expect(try await f.store.runs(matching: RunQuery()).map(\.id) == [parent.id], "children are listed only when asked for")
        #expect(try await f.store.runs(matching: RunQuery(includeChildren: true)).count == 6)
        let summary = try await f.store.summary()
        #expect(summary.counts["in_progress"] == 1)
        #expect(summary.childCounts["queued"] == 5)
    }

    @Test(arguments: StoreKind.allCases)
    func releaseGoesInChunkOrderAndAFinishedChildWakesItsParent(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let (parent, update, children) = try await parentAndChildren(f.store)
        #expect(try await f.store.insertChildren(children, parent: update))
        #expect(try await f.store.releaseChildren(of: parent.id, level: 0, count: 2, now: now + 1) == 2)
        let released = try await f.store.claim(.submission, owner: "w", limit: 10, leaseUntil: now + 60, now: now + 1)
        #expect(released.compactMap(\.chunkIndex).sorted() == [0, 1, 2, 3], "the first two at the cut, then the next two")
        // The parent's step is not due; a child that ends makes it due at once.
        #expect(try await f.store.claim(.treeStep, owner: "p", limit: 10, leaseUntil: now + 60, now: now + 2).isEmpty)
        let child = try #require(released.first)
        let failed = try #require(
            RunUpdate.make(.fail(RunFailure(code: "x", message: "x", source: .kiln)), on: child, at: now + 2, actor: "w"))
        #expect(try await f.store.save(failed))
        let due = try await f.store.claim(.treeStep, owner: "p", limit: 10, leaseUntil: now + 60, now: now + 2)
        #expect(due.map(\.id) == [parent.id])
        #expect(due.first?.input == .object([:]), "a parent's step reads no document")
        #expect(
            try await f.store.claim(.poll, owner: "p", limit: 10, leaseUntil: now + 60, now: now + 100).isEmpty, "parents are not polled")
    }

    @Test(arguments: StoreKind.allCases)
    func cancellingAndRetryingChildrenIsSetBasedAndEvented(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let (parent, update, children) = try await parentAndChildren(f.store)
        #expect(try await f.store.insertChildren(children, parent: update))
        let sent = try await f.store.claim(.submission, owner: "w", limit: 1, leaseUntil: now + 60, now: now + 1)
        let flying = try #require(sent.first)
        let accepted = try #require(
            RunUpdate.make(
                .accept(responseID: ResponseID("resp_1"), providerStatus: "queued", firstPollAt: now + 30), on: flying, at: now + 1,
                actor: "w"))
        #expect(try await f.store.save(accepted))
        let done = try await f.store.cancelChildren(of: parent.id, inFlight: true, reason: "a sibling failed", actor: "p", now: now + 2)
        #expect(done == TreeCancellation(cancelled: 4, requested: 1))
        let asked = try #require(try await f.store.run(flying.id, tenant: nil))
        #expect(asked.cancelRequestedAt != nil)
        #expect(asked.nextPollAt == now + 2, "the poller cancels it at the provider now")
        #expect(try await f.store.events(of: children[4].id).last?.kind == "cancelled")

        // A retry needs a failed parent; then it queues every child without a result, held.
        await #expect(throws: KilnError.self) {
            _ = try await f.store.retryFailedChildren(of: parent.id, tenant: TenantID("t1"), actor: "ops", now: now + 3)
        }
        let leased = try #require(try await f.store.claim(.treeStep, owner: "p", limit: 1, leaseUntil: now + 60, now: now + 20).first)
        let failed = try #require(
            RunUpdate.make(.finish(ProviderOutcome(status: .failed, providerStatus: "failed")), on: leased, at: now + 3, actor: "p"))
        #expect(try await f.store.save(failed))
        #expect(try await f.store.retryFailedChildren(of: parent.id, tenant: TenantID("t2"), actor: "ops", now: now + 4) == nil)
        // A cancelled child marked as deleted at the provider: once retried, its next response
        // must be deleted too.
        try await f.store.recordProviderDeletion(children[4].id, deleted: true, retryAt: nil, now: now + 3)
        let (resumed, queued) = try #require(
            try await f.store.retryFailedChildren(of: parent.id, tenant: TenantID("t1"), actor: "ops", now: now + 4))
        #expect(try await f.store.run(children[4].id, tenant: nil)?.providerDeletedAt == nil)
        #expect(resumed.status == .inProgress)
        #expect(queued == 4, "the four cancelled children; the one at the provider is not done yet")
        let progress = try await f.store.treeProgress(of: parent.id)
        #expect(progress.held(level: 0) == 4)
        #expect(try await f.store.events(of: children[4].id).last?.kind == "retried")
        #expect(try await f.store.run(parent.id, tenant: nil)?.status == .inProgress)
    }
}
