import Foundation
import KilnDomain
import KilnPoller
import KilnProvider
import KilnSimulator
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// The simulator's signed webhooks into Kiln's receiver, two executors working the runs:
/// results come by webhook with about one retrieve per run, and polling still finishes
/// every run when webhooks are lost.
@Suite("Webhooks end to end", .serialized)
struct WebhookEndToEndTests {
    @Test(arguments: WebhookRig.Backend.allCases)
    func twoExecutorsFinishEveryRunOnceWithAboutOneRetrieveEach(backend: WebhookRig.Backend) async throws {
        let noisy: @Sendable (inout WebhookSettings) -> Void = {
            $0.duplicateRate = 0.2
            $0.ignorableRate = 0.2
            $0.earlyRate = 0.2  // the webhook comes before the create's answer
        }
        try await WebhookRig.with(backend: backend, webhooks: noisy) { rig in
            let ids = try await rig.enqueue(30)
            let (first, clientA) = rig.environment(owner: "exec:1")
            let (second, clientB) = rig.environment(owner: "exec:2")
            let started = Date()
            try await withShutdown([clientA.shutdown, clientB.shutdown]) { try await rig.drain([first, second]) }
            let drained = Date().timeIntervalSince(started)
            var retrieves = 0
            for id in ids {
                let run = try #require(try await rig.store.run(id, tenant: nil))
                let kinds = try await rig.store.events(of: id).map(\.kind)
                #expect(
                    run.status == .completed,
                    """
                    \(id) after \(drained) s: next poll \(run.nextPollAt.map(Timestamp.format) ?? "-"), lease \(run.leaseOwner ?? "-"), \
                    polls \(run.pollCount), events \(kinds)
                    """)
                #expect(try await rig.store.events(of: id).filter { $0.toStatus.isTerminal }.count == 1, "finalized once: \(id)")
                #expect(rig.simulator.responses(ofRun: id.rawValue).count == 1, "created once: \(id)")
                retrieves += rig.retrieves(of: id)
            }
            let perRun = Double(retrieves) / Double(ids.count)
            #expect(perRun <= 1.2, "retrieves per run \(perRun)")
            #expect(perRun >= 1, "every run was retrieved: the event is a hint, not the result")
        }
    }

    @Test func whenAFifthOfTheWebhooksAreLostPollingStillFinishesEveryRun() async throws {
        let lossy: @Sendable (inout WebhookSettings) -> Void = { $0.dropRate = 0.2 }
        try await WebhookRig.with(backend: .sqlite, webhooks: lossy) { rig in
            let ids = try await rig.enqueue(30)
            let (executor, client) = rig.environment(owner: "exec:1")
            try await withShutdown([client.shutdown]) { try await rig.drain([executor], timeout: 40) }
            var retrieves = 0
            for id in ids {
                #expect(try await rig.store.run(id, tenant: nil)?.status == .completed, "\(id)")
                retrieves += rig.retrieves(of: id)
            }
            #expect(Double(retrieves) / Double(ids.count) <= 3, "retrieves per run \(Double(retrieves) / Double(ids.count))")
        }
    }

    /// The webhook comes while the run is still `submitting` and its sender is gone (it died
    /// after the create left): the run takes the response instead of waiting for its lease to
    /// run out and sending again. Without adoption this run would sit for the whole 30 s lease.
    @Test(arguments: WebhookRig.Backend.allCases)
    func anEarlyWebhookGivesASubmittingRunItsResponse(backend: WebhookRig.Backend) async throws {
        try await WebhookRig.with(backend: backend) { rig in
            let id = try #require(try await rig.enqueue(1, text: "Fast [sim:queue=0] [sim:generation=0.05]").first)
            let (healthy, client) = rig.environment(owner: "exec:2")
            let (dying, unused) = rig.environment(owner: "exec:1", client: DiesAfterSending(real: client))
            let run: Run = try await withShutdown([client.shutdown, unused.shutdown]) {
                let sender = Task { _ = try? await Submitter(environment: dying).runOnce(now: Date()) }
                defer { sender.cancel() }
                let deadline = Date().addingTimeInterval(10)
                var run = try #require(try await rig.store.run(id, tenant: nil))
                while Date() < deadline, !run.status.isTerminal {
                    _ = try await Poller(environment: healthy).runOnce(now: Date())
                    try await Task.sleep(for: .milliseconds(50))
                    run = try #require(try await rig.store.run(id, tenant: nil))
                }
                sender.cancel()
                _ = await sender.result
                return run
            }
            #expect(run.status == .completed)
            #expect(run.attempt == 1)
            #expect(rig.simulator.responses(ofRun: id.rawValue).count == 1, "no second create")
            let events = try await rig.store.events(of: id)
            #expect(events.contains { $0.kind == "accepted" && $0.details["via"] == "webhook" && $0.actor == "exec:2" })
            #expect(!events.contains { $0.kind == "possible_duplicate" })
        }
    }

    /// The crash-window duplicate: the first create's answer is lost, Kiln sends again and
    /// uses the second response; the first one, which the provider ran and bills, is found
    /// through its webhook and costed on the run.
    @Test(arguments: WebhookRig.Backend.allCases)
    func theDuplicateOfAnAmbiguousSendIsRecordedAsAnOrphanWithItsCost(backend: WebhookRig.Backend) async throws {
        try await WebhookRig.with(backend: backend) { rig in
            let id = try #require(try await rig.enqueue(1).first)
            rig.simulator.inject([.drop])  // the create is performed, its answer never arrives
            let (executor, client) = rig.environment(owner: "exec:1")
            try await withShutdown([client.shutdown]) {
                try await rig.drain([executor])
                // The first response's webhook may come after the run is final.
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline, try await rig.store.summary().orphanResponses == 0 {
                    _ = try await Poller(environment: executor).runOnce(now: Date())
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let run = try #require(try await rig.store.run(id, tenant: nil))
            #expect(run.status == .completed)
            #expect(run.attempt == 2)
            let responses = rig.simulator.responses(ofRun: id.rawValue).compactMap { $0["id"] as? String }
            #expect(responses.count == 2)
            let orphan = try #require(try await rig.store.events(of: id).first { $0.kind == "orphan_response" })
            #expect(orphan.details["response_id"]?.stringValue == responses.first { $0 != run.responseID?.rawValue })
            #expect(orphan.details["attempt"] == .number(1))
            #expect(run.orphanCostMicros > 0)
            #expect(orphan.details["cost_micros"] == .number(Double(run.orphanCostMicros)))
            let summary = try await rig.store.summary()
            #expect(summary.orphanResponses == 1)
            #expect(summary.costMicros == (run.costMicros ?? 0) + run.orphanCostMicros)
        }
    }
}

/// A sender that dies right after its create left: the provider has the response, the run
/// never hears of it (the test cancels the hung task).
struct DiesAfterSending: ResponsesClient {
    let real: any ResponsesClient

    func create(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResponse {
        _ = try await real.create(request)
        try? await Task.sleep(for: .seconds(3600))
        throw ProviderError(kind: .ambiguous, code: "test_process_died", message: "the process died")
    }

    func retrieve(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse { try await real.retrieve(id) }
    func cancel(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse { try await real.cancel(id) }
    func delete(_ id: ResponseID) async throws(ProviderError) { try await real.delete(id) }
}
