import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// What goes wrong in a long document's tree: a child that fails for good, the operator's
/// retry of only the failed children, partial mode, the parent's cancellation, the cost cap.
@Suite("Long documents, failures", .serialized)
struct DocumentTreeFailureTests {
    typealias Backend = DocumentTreeTests.Backend

    @Test(arguments: Backend.allCases)
    func aChildThatFailsFailsTheParentAndARetryResumesOnlyTheFailedChildren(backend: Backend) async throws {
        try await Harness.with { h in
            DocumentTreeTests.configure(&h.configuration)
            let (store, execute) = try await DocumentTreeTests.store(backend, h)
            // Part 1's first response fails at once; with one attempt per run, it fails for good
            // while parts 2–4 are still generating and 5–12 wait to be released.
            let slow = "[sim:generation=1.5]"
            let text = DocumentTreeTests.document(
                parts: 12, extra: [1: "[sim:fail_once] [sim:generation=0.01]", 2: slow, 3: slow, 4: slow])
            try await execute(DocumentTreeTests.insertSQL(id: "run_flaky", text: text, policy: ["max_attempts": 1]))
            let parent = RunID("run_flaky")
            try await h.drain(store: store, timeout: 60)

            let failed = try #require(try await store.run(parent, tenant: nil))
            #expect(failed.status == .failed)
            #expect(failed.error?.code == "child_failed")
            let before = try await store.treeChildren(of: parent, level: 0)
            let broken = before[0]
            #expect(broken.status == .failed)
            #expect(failed.error?.message.contains("\(broken.id)") == true, "\(failed.error?.message ?? "")")
            #expect(failed.error?.message.contains("part 1 of 12") == true)
            let finished = before.filter { $0.status == .completed }
            let cancelled = before.filter { $0.status == .cancelled }
            #expect(finished.count == 3, "children in flight finish and are kept: \(before.map(\.status))")
            #expect(cancelled.count == 8, "children not yet sent are cancelled")
            #expect(finished.count + cancelled.count + 1 == 12, "nothing left running: \(before.map(\.status))")
            for child in cancelled { #expect(h.simulator.responses(ofRun: child.id.rawValue).isEmpty, "never sent") }
            #expect(try await store.treeChildren(of: parent, level: 1).isEmpty, "no merge starts after a failure")
            let brokenCost = broken.costMicros

            // The operator's retry queues only what ended without a result.
            let service = RunService(store: store, actor: "ops")
            let (resumed, queued) = try await service.retryFailedChildren(parent, tenant: TenantID("acme"))
            #expect(resumed.status == .inProgress)
            #expect(queued == cancelled.count + 1)
            await #expect(throws: KilnError.self) { _ = try await service.retryFailedChildren(parent, tenant: TenantID("acme")) }
            try await h.drain(store: store, timeout: 60)

            let done = try #require(try await store.run(parent, tenant: nil))
            #expect(done.status == .completed, "\(done.error?.message ?? "")")
            #expect(DocumentTreeTests.facts(in: done.output?.text ?? "") == (1...12).map(DocumentTreeTests.fact))
            for child in finished {
                #expect(h.simulator.responses(ofRun: child.id.rawValue).count == 1, "a finished child is not paid for twice")
            }
            #expect(h.simulator.responses(ofRun: broken.id.rawValue).count == 2)
            let after = try await store.treeChildren(of: parent, level: nil)
            let retried = try #require(after.first { $0.id == broken.id })
            #expect(retried.orphanCostMicros == brokenCost, "the failed attempt's cost is kept")
            #expect(done.costMicros == after.reduce(0) { $0 + $1.costMicros + $1.orphanCostMicros })
            let events = try await store.events(of: broken.id).map(\.kind)
            #expect(events.contains("retried"))
            let spend = try await service.spend(tenant: TenantID("acme"), since: Date().addingTimeInterval(-86_400))
            #expect(spend.total.runs == 1, "a document retried once is still one run")
            #expect(spend.total.costMicros == done.costMicros, "its cost, the failed attempt's included, counted once")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test func partialModeCompletesWithTheMissingRangesNamed() async throws {
        try await Harness.with { h in
            DocumentTreeTests.configure(&h.configuration)
            let text = DocumentTreeTests.document(parts: 12, extra: [4: "[sim:fail]"])
            try await h.store.execute(
                DocumentTreeTests.insertSQL(
                    id: "run_partial", text: text, policy: ["max_attempts": 1, "allow_missing_fraction": .number(0.1)]))
            try await h.drain(timeout: 60)
            let done = try await h.run(RunID("run_partial"))
            #expect(done.status == .completed, "\(done.error?.message ?? "")")
            let map = try await h.store.treeChildren(of: done.id, level: 0)
            #expect(done.output?.missingRanges == [CharRange(start: map[3].charStart, end: map[3].charEnd)])
            #expect(done.output?.isPartial == true)
            let facts = DocumentTreeTests.facts(in: done.output?.text ?? "")
            #expect(facts == (1...12).filter { $0 != 4 }.map(DocumentTreeTests.fact), "never a silent gap, never an invented fact")
            let final = try #require(try await h.store.treeChildren(of: done.id, level: nil).last)
            let finalInput = try await h.run(final.id).input
            #expect(
                finalInput["missing"]?.arrayValue?.first?.stringValue?.hasPrefix("part 4 of 12") == true,
                "\(finalInput["missing"] ?? .null)")
            let json = try #require(JSONText.encode(done.output))
            #expect(json.contains(#""partial":true"#))
        }
    }

    @Test func withoutPartialModeOneMissingChunkFailsTheDocument() async throws {
        try await Harness.with { h in
            DocumentTreeTests.configure(&h.configuration)
            let text = DocumentTreeTests.document(parts: 12, extra: [4: "[sim:fail]"])
            try await h.store.execute(DocumentTreeTests.insertSQL(id: "run_strict", text: text, policy: ["max_attempts": 1]))
            try await h.drain(timeout: 60)
            let done = try await h.run(RunID("run_strict"))
            #expect(done.status == .failed)
            #expect(done.output == nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func cancellingTheParentCancelsTheWholeTreeAtTheProvider(backend: Backend) async throws {
        try await Harness.with(simulator: Harness.simulator { $0.generationMedian = 30 }) { h in
            DocumentTreeTests.configure(&h.configuration)
            let (store, execute) = try await DocumentTreeTests.store(backend, h)
            try await execute(DocumentTreeTests.insertSQL(id: "run_cancel", text: DocumentTreeTests.document(parts: 12)))
            let parent = RunID("run_cancel")
            try await h.withEnvironment(store: store) { environment in
                let submitter = Submitter(environment: environment)
                _ = try await submitter.runOnce(now: Date())
                _ = try await submitter.runOnce(now: Date())
            }
            let flying = try await store.treeChildren(of: parent, level: 0).filter { $0.status == .inProgress }
            #expect(flying.count == 4)

            _ = try await RunService(store: store, actor: "app").cancel(parent, tenant: TenantID("acme"))
            try await h.drain(store: store, timeout: 30)
            let done = try #require(try await store.run(parent, tenant: nil))
            #expect(done.status == .cancelled)
            let children = try await store.treeChildren(of: parent, level: nil)
            #expect(children.allSatisfy { $0.status == .cancelled }, "\(children.map(\.status))")
            for child in flying {
                let record = try #require(h.simulator.responses(ofRun: child.id.rawValue).last)
                #expect(record["status"] as? String == "cancelled", "cancelled at the provider: \(child.id)")
            }
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }

    @Test func aDocumentOverItsCostCapIsRefusedWithTheEstimate() async throws {
        try await Harness.with { h in
            DocumentTreeTests.configure(&h.configuration)
            let text = DocumentTreeTests.document(parts: 12)
            // At enqueue, with the tree's estimate in the message.
            let service = RunService(
                store: h.store, policyDefaults: h.configuration.policy, limits: h.configuration.limits, actor: "app",
                tree: DocumentTree(settings: h.configuration.documents, limits: h.configuration.limits, prices: h.configuration.prices))
            let refusal = await #expect(throws: KilnError.self) {
                _ = try await service.enqueue(
                    RunService.Request(
                        feature: "document_summary", tenant: TenantID("acme"), input: ["text": .string(text)],
                        policy: ["max_cost_micros": 100]))
            }
            #expect(refusal?.code == .overBudget)
            #expect(refusal?.message.contains("policy.max_cost_micros is 100") == true, "\(refusal?.message ?? "")")
            // A row inserted by SQL is refused before any child is created.
            try await h.store.execute(DocumentTreeTests.insertSQL(id: "run_costly", text: text, policy: ["max_cost_micros": 100]))
            try await h.drain(timeout: 20)
            let run = try await h.run(RunID("run_costly"))
            #expect(run.status == .failed)
            #expect(run.error?.code == "over_budget")
            #expect(run.error?.message.contains("micro-dollars") == true)
            #expect(try await h.store.treeChildren(of: run.id, level: nil).isEmpty)
            // Retrying cannot help a run that was never cut.
            let retry = await #expect(throws: KilnError.self) {
                _ = try await RunService(store: h.store).retryFailedChildren(run.id, tenant: TenantID("acme"))
            }
            #expect(retry?.code == .conflict)
        }
    }

    @Test func aSummaryCutAtItsCapIsNamedNotSilentlyLost() async throws {
        try await Harness.with { h in
            DocumentTreeTests.configure(&h.configuration)
            // Part 3 carries 150 facts: its summary lists them all, far past the 1,000 characters
            // a part's summary may have here (group_chars / 8).
            let many = (1...150).map { "FACT-9\(String(format: "%03d", $0))" }.joined(separator: " ")
            let text = DocumentTreeTests.document(parts: 12, extra: [3: many])
            try await h.store.execute(DocumentTreeTests.insertSQL(id: "run_dense", text: text))
            try await h.drain(timeout: 60)
            let done = try await h.run(RunID("run_dense"))
            #expect(done.status == .completed)
            let map = try await h.store.treeChildren(of: done.id, level: 0)
            let cut = try #require(map[2].output?.truncatedChars)
            #expect(cut > 0)
            #expect((done.output?.truncatedChars ?? 0) >= cut, "the parent counts what its tree cut")
            let merge = try #require(try await h.store.treeChildren(of: done.id, level: 1).first)
            let labels = try await h.run(merge.id).input["parts"]?.arrayValue?.compactMap { $0["label"]?.stringValue } ?? []
            #expect(labels.contains { $0.hasPrefix("part 3 of 12, its summary cut short by") }, "\(labels)")
        }
    }
}
