import Foundation
import KilnDomain
import KilnPoller
import KilnProvider
import KilnSimulator
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// A `batch.*` webhook makes the batch of the batch lane due at once: with a poll interval of an
/// hour, the runs still end within seconds of the batch's end.
@Suite("Webhooks for the Batch lane", .serialized)
struct BatchWebhookTests {
    @Test(arguments: WebhookRig.Backend.allCases)
    func aBatchWebhookBringsTheResultsInWithoutWaitingForAPoll(backend: WebhookRig.Backend) async throws {
        let fast: @Sendable (inout SimulatorConfiguration) -> Void = {
            $0.batchValidatingSeconds = 0.1
            $0.batchQueueWaitMax = 0.3
            $0.batchFinalizingSeconds = 0.1
        }
        let noisy: @Sendable (inout WebhookSettings) -> Void = { $0.ignorableRate = 0.3 }
        try await WebhookRig.with(backend: backend, webhooks: noisy, simulator: fast) { given in
            var rig = given
            rig.configuration.batch.gatherSeconds = 0.2
            // Only the webhook can bring the batch in before the drain's 30 s run out: the next poll is an hour away.
            rig.configuration.batch.pollSeconds = 3600
            var ids: [RunID] = []
            for i in 0..<4 {
                ids.append(
                    try await RunService(store: rig.store, actor: "test").enqueue(
                        .init(
                            feature: "document_summary", tenant: TenantID("t1"), input: ["text": .string("A batched report \(i).")],
                            policy: ["lane": "batch", "deadline_seconds": 200_000])
                    ).run.id)
            }
            let (environment, client) = rig.environment(owner: "exec:1")
            try await withShutdown([client.shutdown]) { try await rig.drain([environment], timeout: 30) }
            for id in ids {
                let run = try #require(try await rig.store.run(id, tenant: nil))
                #expect(run.status == .completed && run.usage?.batchID != nil, "\(id)")
            }
            #expect(rig.simulator.webhookCounters.events >= 1, "the simulator announced the batch's end")
        }
    }
}
