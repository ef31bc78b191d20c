import Foundation
import KilnDomain
import Testing

/// The guard of a write holds against a run that came back to the same status and owner.
@Suite("RunStore guards")
struct GuardTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A worker's accept, retried through a long outage, must not land on the run after the
    /// run was recovered, claimed again by the same worker and sent again: status and owner
    /// are the same as when the accept was made, the attempt is not.
    @Test(arguments: StoreKind.allCases)
    func aStaleWriteFailsOnceTheRunWasSentAgain(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await RunService(store: f.store, actor: "app").enqueue(
            .init(feature: "document_summary", tenant: TenantID("t"), input: ["text": "x"]), now: now
        ).run
        func step(_ transition: RunTransition, _ current: Run, at: Date, actor: String) async throws -> Run {
            let update = try #require(RunUpdate.make(transition, on: current, at: at, actor: actor))
            #expect(try await f.store.save(update), "\(transition)")
            return update.run
        }
        let claimed = try #require(try await f.store.claim(.submission, owner: "w", limit: 1, leaseUntil: now + 5, now: now).first)
        let sent = try await step(.markSend(promptVersion: "v1", leaseUntil: now + 6), claimed, at: now + 1, actor: "w")
        let staleAccept = try #require(
            RunUpdate.make(
                .accept(responseID: ResponseID("resp_a"), providerStatus: "queued", firstPollAt: now + 9), on: sent, at: now + 2, actor: "w"
            ))

        // The lease runs out; another worker recovers the ambiguous send and requeues it; the
        // first worker claims it again and sends it again.
        let taken = try #require(
            try await f.other.claim(.abandonedSubmission, owner: "x", limit: 1, leaseUntil: now + 20, now: now + 6).first)
        _ = try await step(.requeue(availableAt: now + 7, lastError: nil), taken, at: now + 6, actor: "x")
        let again = try #require(try await f.store.claim(.submission, owner: "w", limit: 1, leaseUntil: now + 30, now: now + 8).first)
        #expect(again.status == staleAccept.expectedStatus && again.leaseOwner == staleAccept.expectedLeaseOwner)
        let resent = try await step(.markSend(promptVersion: "v1", leaseUntil: now + 31), again, at: now + 9, actor: "w")
        #expect(resent.attempt == 2)

        #expect(try await f.store.save(staleAccept) == false, "the accept of attempt 1 does not overwrite attempt 2")
        let stored = try #require(try await f.store.run(run.id, tenant: nil))
        #expect(stored.status == .submitting && stored.attempt == 2 && stored.responseID == nil)
    }
}
