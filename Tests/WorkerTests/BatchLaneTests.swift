import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnSimulator
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// The Batch lane end to end against the simulator's Files and Batch endpoints, on both
/// backends: runs gathered into one file and one batch end as standard runs would, billed at
/// Batch rates; an expired batch keeps what finished and gives the rest back (sent at
/// standard, never billed twice); a cancel before upload leaves the run out of the file, a
/// cancel after is reported and honoured when the batch ends; every run cancelled cancels the
/// batch at the provider.
@Suite("The Batch lane", .serialized)
struct BatchLaneTests {
    typealias Backend = DocumentTreeTests.Backend

    static let policy: JSONValue = ["lane": "batch", "deadline_seconds": 200_000]

    static func simulator(_ change: (inout SimulatorConfiguration) -> Void = { _ in }) -> Simulator {
        Harness.simulator {
            $0.batchValidatingSeconds = 0.1
            $0.batchQueueWaitMax = 0.3
            $0.batchFinalizingSeconds = 0.1
            $0.batchCancellingSeconds = 0.2
            change(&$0)
        }
    }

    static func fast(_ h: inout Harness, gather: Double = 0.3) {
        h.configuration.batch.gatherSeconds = gather
        h.configuration.batch.pollSeconds = 0.1
        h.configuration.batch.retrySeconds = 0.1
        h.configuration.batch.leaseSeconds = 5
    }

    static func enqueue(
        _ store: any RunStore, _ count: Int, prefix: String, policy: JSONValue = BatchLaneTests.policy
    ) async throws -> [Run] {
        var runs: [Run] = []
        for i in 0..<count {
            runs.append(try await LaneTests.enqueue(store, "\(prefix) \(i): the quarterly report of unit \(i).", policy: policy))
        }
        return runs
    }

    static func batchRow(_ store: any RunStore, _ id: String?) async throws -> KilnBatch? {
        guard let id, let batches = store as? any BatchStore else { return nil }
        return try await batches.batch(id)
    }

    @Test(arguments: Backend.allCases)
    func runsOfOneModelGoInOneBatchAndEndAsStandardRunsWouldAtBatchPrices(backend: Backend) async throws {
        try await Harness.with(simulator: Self.simulator()) { h in
            Self.fast(&h)
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let batched = try await Self.enqueue(store, 12, prefix: "Batched")
            let standard = try await LaneTests.enqueue(store, "A standard report.", policy: [:])
            try await h.drain(store: store, timeout: 40)

            let stats = h.simulator.statistics()
            #expect(stats["batches"] as? Int == 1, "one model, one file, one batch")
            #expect((stats["batches_by_kiln_batch"] as? [String: Int])?.values.allSatisfy { $0 == 1 } == true)
            var batchIDs: Set<String> = []
            for run in batched {
                let done = try #require(try await store.run(run.id, tenant: nil))
                #expect(done.status == .completed, "\(run.id): \(done.error?.message ?? "")")
                let usage = try #require(done.usage)
                #expect(usage.batchID != nil, "billed as carried by a batch")
                #expect(done.costMicros == LaneTests.handCost(usage, 0.5), "Batch rates: half price")
                #expect(done.attempt == 1)
                let records = h.simulator.responses(ofRun: run.id.rawValue)
                #expect(records.count == 1, "one response at the provider")
                #expect(done.responseID?.rawValue == records.first?["id"] as? String, "the response id is kept")
                let text = (records.first?["output"] as? [[String: Any]])?.flatMap { ($0["content"] as? [[String: Any]]) ?? [] }
                    .compactMap { $0["text"] as? String }.joined()
                #expect(done.output?.text == text, "the output is the provider's")
                let kinds = try await store.events(of: run.id).map(\.kind)
                #expect(kinds == ["enqueued", "claimed", "batched", "batch_submitted", "finalized"], "\(kinds)")
                if let id = done.batchID { batchIDs.insert(id) }
            }
            #expect(batchIDs.count == 1)
            let row = try #require(try await Self.batchRow(store, batchIDs.first))
            #expect(row.state == .done && row.requestCount == 12 && row.providerStatus == "completed")
            let done = try #require(try await store.run(standard.id, tenant: nil))
            #expect(done.status == .completed && done.usage?.batchID == nil && done.batchID == nil, "the standard lane is untouched")
            #expect(done.costMicros == LaneTests.handCost(try #require(done.usage), 1))

            // Retention: the batch row stays while it holds a run, and goes with its last one.
            // 11 of the 13 runs first: at least one of the batch's is left.
            #expect(try await store.prune(finalizedBefore: Date() + 60, limit: 11, deletingAfterFinalize: false) == 11)
            #expect(try await Self.batchRow(store, batchIDs.first) != nil, "a run of the batch is still there")
            #expect(try await store.prune(finalizedBefore: Date() + 60, limit: 11, deletingAfterFinalize: false) == 2)
            #expect(try await Self.batchRow(store, batchIDs.first) == nil, "the ended batch is pruned with its last run")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func batchesHoldOneModelAndStayWithinTheirLimits(backend: Backend) async throws {
        try await Harness.with(simulator: Self.simulator()) { h in
            Self.fast(&h, gather: 5)
            h.configuration.batch.maxRequests = 5
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let mini = try await Self.enqueue(store, 12, prefix: "Mini")
            let nano = try await Self.enqueue(
                store, 2, prefix: "Nano", policy: ["lane": "batch", "deadline_seconds": 200_000, "model": "gpt-5-nano"])
            // One submitter pass gathers them all; a gathering batch is due 5 s later, a full one at once.
            _ = try await h.withEnvironment(store: store) { try await Submitter(environment: $0).runOnce(now: Date()) }
            var members: [String: [RunID]] = [:]
            for run in mini + nano {
                let held = try #require(try await store.run(run.id, tenant: nil))
                members[try #require(held.batchID), default: []].append(run.id)
            }
            let joinedBy = Date()
            var shapes: [String] = []
            for (id, runs) in members {
                let row = try #require(try await Self.batchRow(store, id))
                #expect(row.requestCount == runs.count && row.requestCount <= 5)
                shapes.append("\(row.model):\(row.requestCount)")
                // A full batch is due at once; one still gathering, when its gathering ends.
                if row.requestCount == 5 {
                    #expect(row.dueAt <= joinedBy, "a full batch is sent without waiting")
                } else {
                    #expect(
                        abs(row.dueAt.timeIntervalSince(row.openedAt) - 5) < 0.01, "a gathering batch waits out batch.gather_seconds")
                }
            }
            #expect(shapes.sorted() == ["gpt-5-mini:2", "gpt-5-mini:5", "gpt-5-mini:5", "gpt-5-nano:2"], "\(shapes)")
            try await h.drain(store: store, timeout: 40)
            for run in mini + nano { #expect(try await store.run(run.id, tenant: nil)?.status == .completed) }
            #expect(h.simulator.statistics()["batches"] as? Int == 4)
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func anExpiredBatchKeepsWhatFinishedAndTheRestIsSentAtStandardOnce(backend: Backend) async throws {
        // Requests start within 1 s, the window closes at 0.7 s: some finish, the rest expire.
        let simulator = Self.simulator {
            $0.batchQueueWaitMax = 1.0
            $0.batchWindowSeconds = 0.7
        }
        try await Harness.with(simulator: simulator) { h in
            Self.fast(&h)
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let runs = try await Self.enqueue(store, 20, prefix: "Patient")
            try await h.drain(store: store, timeout: 40)
            var inBatch = 0
            var atStandard = 0
            for run in runs {
                let done = try #require(try await store.run(run.id, tenant: nil))
                #expect(done.status == .completed, "\(run.id)")
                let usage = try #require(done.usage)
                #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 1, "billed once: \(run.id)")
                let events = try await store.events(of: run.id)
                if usage.batchID != nil {
                    inBatch += 1
                    #expect(done.costMicros == LaneTests.handCost(usage, 0.5))
                } else {
                    atStandard += 1
                    #expect(done.costMicros == LaneTests.handCost(usage, 1))
                    let left = try #require(events.first { $0.kind == "batch_left" })
                    #expect(left.details["batch_status"] == "expired" || left.details["reason"] != nil)
                    #expect(events.contains { $0.kind == "send_started" && $0.details["fallback_from"] == "batch" })
                    #expect(done.attempt == 1, "the expired request cost no attempt")
                }
            }
            #expect(inBatch > 0 && atStandard > 0, "finished work kept (\(inBatch)), the rest sent at standard (\(atStandard))")
            #expect(h.simulator.statistics()["batches"] as? Int == 1, "an expired batch's runs are not batched again")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func aCancelBeforeUploadLeavesTheRunOutAndAfterUploadIsHonouredWhenTheBatchEnds(backend: Backend) async throws {
        try await Harness.with(simulator: Self.simulator { $0.batchQueueWaitMax = 1.0 }) { h in
            Self.fast(&h, gather: 60)
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let runs = try await Self.enqueue(store, 4, prefix: "Cancellable")
            let service = RunService(store: store, actor: "app")
            try await h.withEnvironment(store: store) { environment in
                _ = try await Submitter(environment: environment).runOnce(now: Date())
                #expect(try await store.run(runs[0].id, tenant: nil)?.status == .submitting, "gathered")
                _ = try await service.cancel(runs[0].id, tenant: TenantID("acme"))
                // The gathering ends (time moved on by a minute), the file is uploaded and the batch created.
                _ = try await Poller(environment: environment).runOnce(now: Date(), dueBy: Date().addingTimeInterval(61))
            }
            let before = try #require(try await store.run(runs[0].id, tenant: nil))
            #expect(before.status == .cancelled, "cancelled before upload")
            #expect(h.simulator.responses(ofRun: runs[0].id.rawValue).isEmpty, "never sent")
            let batchID = try #require(try await store.run(runs[1].id, tenant: nil)?.batchID)
            #expect(try await Self.batchRow(store, batchID)?.requestCount == 3, "the file left without it")
            #expect(try await store.run(runs[1].id, tenant: nil)?.status == .inProgress)
            #expect(try await store.summary().batches == ["submitted": 1], "kiln status shows the batch at the provider")

            _ = try await service.cancel(runs[1].id, tenant: TenantID("acme"))
            try await h.drain(store: store, timeout: 40)
            let after = try #require(try await store.run(runs[1].id, tenant: nil))
            #expect(after.status == .cancelled && after.output == nil, "cancelled when its batch ended")
            let records = h.simulator.responses(ofRun: runs[1].id.rawValue)
            if records.isEmpty {
                #expect(after.costMicros == nil, "not run, not billed")
            } else {
                let usage = try #require(after.usage)
                #expect(after.costMicros == LaneTests.handCost(usage, 0.5), "run by the provider: billed, and recorded")
            }
            for run in runs[2...] {
                #expect(try await store.run(run.id, tenant: nil)?.status == .completed)
            }
            #expect(try await store.summary().batches.isEmpty, "a batch done is no longer counted")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func cancellingEveryRunCancelsTheBatchAtTheProvider(backend: Backend) async throws {
        try await Harness.with(simulator: Self.simulator { $0.batchQueueWaitMax = 3.0 }) { h in
            Self.fast(&h, gather: 60)
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let runs = try await Self.enqueue(store, 3, prefix: "Unwanted")
            try await h.withEnvironment(store: store) { environment in
                _ = try await Submitter(environment: environment).runOnce(now: Date())
                _ = try await Poller(environment: environment).runOnce(now: Date(), dueBy: Date().addingTimeInterval(61))
            }
            let batchID = try #require(try await store.run(runs[0].id, tenant: nil)?.batchID)
            for run in runs { _ = try await RunService(store: store, actor: "app").cancel(run.id, tenant: TenantID("acme")) }
            try await h.drain(store: store, timeout: 40)
            let row = try #require(try await Self.batchRow(store, batchID))
            #expect(row.cancelSentAt != nil && row.providerStatus == "cancelled", "cancelled at the provider")
            for run in runs {
                let done = try #require(try await store.run(run.id, tenant: nil))
                #expect(done.status == .cancelled)
            }
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func aRequestTheProviderRefusesFailsItsRunAsAStandardSendWould(backend: Backend) async throws {
        try await Harness.with(simulator: Self.simulator()) { h in
            Self.fast(&h)
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let good = try await Self.enqueue(store, 2, prefix: "Fine")
            // The API wants max_output_tokens ≥ 16; Kiln's policy allows 1: the provider refuses this line.
            let bad = try await LaneTests.enqueue(
                store, "A report with too little room.", policy: ["lane": "batch", "deadline_seconds": 200_000, "max_output_tokens": 5])
            try await h.drain(store: store, timeout: 40)
            let refused = try #require(try await store.run(bad.id, tenant: nil))
            #expect(refused.status == .failed && refused.error?.code == "integer_below_min_value" && refused.error?.source == .provider)
            #expect(refused.batchID != nil && refused.costMicros == nil, "carried by the batch, refused, not billed")
            for run in good { #expect(try await store.run(run.id, tenant: nil)?.status == .completed) }
            #expect(h.simulator.statistics()["batches"] as? Int == 1)
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test(arguments: Backend.allCases)
    func aBatchTheProviderRefusesGivesItsRunsBackToBeSentAtStandard(backend: Backend) async throws {
        try await Harness.with(simulator: Self.simulator()) { h in
            Self.fast(&h)
            let (store, _) = try await DocumentTreeTests.store(backend, h)
            let runs = try await Self.enqueue(store, 3, prefix: "[sim:batch_fail] Refused")
            try await h.drain(store: store, timeout: 40)
            for run in runs {
                let done = try #require(try await store.run(run.id, tenant: nil))
                #expect(done.status == .completed && done.attempt == 1 && done.usage?.batchID == nil, "\(run.id)")
                #expect(done.costMicros == LaneTests.handCost(try #require(done.usage), 1), "sent at standard: full price")
                let left = try #require(try await store.events(of: run.id).first { $0.kind == "batch_left" })
                #expect(left.details["reason"] == "batch_failed")
                #expect(h.simulator.responses(ofRun: run.id.rawValue).count == 1, "created once, at standard")
            }
            let stats = h.simulator.statistics()
            #expect(stats["batches"] as? Int == 1)
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test func aRunWhoseDeadlineIsNearerThanABatchWindowIsSentAtStandard() async throws {
        try await Harness.with(simulator: Self.simulator()) { h in
            Self.fast(&h)
            let run = try await LaneTests.enqueue(h.store, "An urgent report.", policy: ["lane": "batch", "deadline_seconds": 3600])
            try await h.drain(timeout: 20)
            let done = try await h.run(run.id)
            #expect(done.status == .completed && done.batchID == nil && done.usage?.batchID == nil)
            let sends = try await h.store.events(of: run.id).filter { $0.kind == "send_started" }
            #expect(sends.first?.details["fallback_from"] == "batch")
            #expect(h.simulator.statistics()["batches"] as? Int == 0)
        }
    }
}
