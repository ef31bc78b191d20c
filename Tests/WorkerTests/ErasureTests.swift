import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnTestSupport
import KilnWorker
import Testing

/// The provider's copies and the right to erasure, on both backends: finished runs' stored
/// responses are deleted at the provider (a failed deletion is tried again, never holding a run
/// up), and an erasure removes one record's inputs and outputs — nothing else — leaving
/// tombstones, and deletes its responses at the provider.
@Suite("Erasure and the provider's copies", .serialized)
struct ErasureTests {
    typealias Backend = DocumentTreeTests.Backend

    func enqueue(_ service: RunService, tenant: String, subject: String, text: String) async throws -> Run {
        try await service.enqueue(
            .init(
                feature: "document_summary", tenant: TenantID(tenant), subject: try Subject(parsing: subject),
                input: ["text": .string(text)])
        ).run
    }

    @Test(arguments: Backend.allCases)
    func storedResponsesAreDeletedAndAFailedDeletionIsTriedAgain(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.provider.deleteAfterFinalize = false
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let service = RunService(store: store, actor: "app")
            var runs: [Run] = []
            for index in 0..<4 {
                runs.append(try await enqueue(service, tenant: "acme", subject: "doc:\(index)", text: "Report \(index)."))
            }
            try await h.drain(store: store, timeout: 30)
            #expect(h.simulator.statistics()["deletes"] as? Int == 0, "off: nothing deleted")

            h.configuration.provider.deleteAfterFinalize = true
            h.configuration.poller.concurrency = 1  // one deletion at a time: the faults meet the first
            try await h.withEnvironment(store: store) { environment in
                let poller = Poller(environment: environment)
                // The first deletion meets three 500s (the client's own retries included): it fails.
                h.simulator.inject([.serverError, .serverError, .serverError])
                let first = try await poller.runOnce(now: Date())
                #expect(first.providerDeletes == 3)
                #expect(first.providerDeleteFailures == 1)
                let stored = try await runs.asyncMap { try #require(try await store.run($0.id, tenant: nil)) }
                #expect(stored.allSatisfy { $0.status == .completed }, "a failed deletion holds no run up")
                let pending = stored.filter { $0.providerDeletedAt == nil }
                #expect(pending.count == 1)
                // Pruning keeps the run whose response is still to be deleted.
                let pruned = try await store.prune(finalizedBefore: Date().addingTimeInterval(60), limit: 100, deletingAfterFinalize: true)
                #expect(pruned == 3)
                #expect(try await store.run(pending[0].id, tenant: nil) != nil)
                // Tried again once it is due (30 s later), and done.
                #expect(try await poller.runOnce(now: Date()).providerDeletes == 0, "not before it is due")
                let again = try await poller.runOnce(now: Date(), dueBy: Date().addingTimeInterval(120))
                #expect(again.providerDeletes == 1)
                #expect(try await store.run(pending[0].id, tenant: nil)?.providerDeletedAt != nil)
                #expect(h.simulator.statistics()["deletes"] as? Int == 4)
                #expect(try await poller.runOnce(now: Date(), dueBy: Date().addingTimeInterval(86_400)).providerDeletes == 0, "each once")
            }
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func erasureRemovesOneRecordsContentKeepsTombstonesAndDeletesAtTheProvider(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.provider.deleteAfterFinalize = false
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let service = RunService(store: store, actor: "app")
            var target: [Run] = []
            for index in 0..<3 {
                target.append(try await enqueue(service, tenant: "acme", subject: "patient:7", text: "Visit \(index) notes."))
            }
            let other = try await enqueue(service, tenant: "acme", subject: "patient:8", text: "Another patient.")
            let otherTenant = try await enqueue(service, tenant: "globex", subject: "patient:7", text: "Same id, other tenant.")
            try await h.drain(store: store, timeout: 30)
            var costs: [RunID: Int64?] = [:]
            for run in target { costs[run.id] = try await store.run(run.id, tenant: nil)?.costMicros }
            let waiting = try await enqueue(service, tenant: "acme", subject: "patient:7", text: "Not sent yet.")
            let spendBefore = try await service.spend(tenant: TenantID("acme"), since: Date().addingTimeInterval(-86_400))

            let outcome = try await RunService(store: store, actor: "dpo@acme").erase(
                tenant: TenantID("acme"), subject: try Subject(parsing: "patient:7"))
            #expect(outcome == ErasureOutcome(erased: 3, stillRunning: 1))
            for run in target {
                let tomb = try #require(try await store.run(run.id, tenant: nil))
                #expect(tomb.input == ["erased": true])
                #expect(tomb.output == nil)
                #expect(tomb.erasedAt != nil)
                #expect(tomb.status == .completed, "the tombstone keeps what happened")
                #expect(tomb.costMicros != nil)
                #expect(tomb.costMicros == costs[run.id] ?? nil, "the cost is kept as it was")
                #expect(tomb.usage != nil)
                #expect(tomb.responseID != nil)
                let erased = try #require(try await store.events(of: run.id).last)
                #expect(erased.kind == "erased")
                #expect(erased.actor == "dpo@acme")
            }
            for untouched in [other, otherTenant] {
                let row = try #require(try await store.run(untouched.id, tenant: nil))
                #expect(row.erasedAt == nil)
                #expect(row.input == untouched.input)
                #expect(row.output != nil)
            }
            #expect(try await store.run(waiting.id, tenant: nil)?.input == waiting.input, "a run not finished is left alone")
            #expect(try await service.spend(tenant: TenantID("acme"), since: Date().addingTimeInterval(-86_400)) == spendBefore)

            // The poller deletes the erased runs' responses at the provider (only theirs).
            let pass = try await h.withEnvironment(store: store) { try await Poller(environment: $0).runOnce(now: Date()) }
            #expect(pass.providerDeletes == 3)
            #expect(h.simulator.statistics()["deletes"] as? Int == 3)
            for run in target { #expect(try await store.run(run.id, tenant: nil)?.providerDeletedAt != nil) }
            #expect(try await store.run(other.id, tenant: nil)?.providerDeletedAt == nil)
            #expect(
                try await RunService(store: store).erase(tenant: TenantID("acme"), subject: try Subject(parsing: "patient:7")).erased == 0)
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }
}
