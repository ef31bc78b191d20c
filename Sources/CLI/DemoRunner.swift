import Foundation
import KilnDomain
import KilnPoller
import KilnProvider
import KilnSubmitter
import KilnWorker
import Logging
import ServiceLifecycle

/// Which runs of the demo do what.
struct DemoPlan {
    enum Role { case plain, fails, incomplete, timesOut, cancelledQueued, cancelledInFlight }
    let runs: Int
    let directives: Bool

    func role(_ index: Int) -> Role {
        guard directives else { return .plain }
        switch (index % 17, index % 25) {
        case (3, _): return .fails
        case (5, _): return .incomplete
        case (_, 7): return .timesOut
        case (_, 11): return .cancelledInFlight
        case (_, 13): return .cancelledQueued
        default: return .plain
        }
    }

    func input(_ index: Int) -> JSONValue {
        var text = SampleDocuments.document(index)
        switch role(index) {
        case .fails: text += " [sim:fail]"
        case .incomplete: text += " [sim:incomplete]"
        case .timesOut: text += " [sim:stuck]"
        case .cancelledInFlight: text += " [sim:generation=100000]"
        case .plain, .cancelledQueued: break
        }
        let lengths = ["short", "medium", "long"]
        return ["text": .string(text), "length": .string(lengths[index % 3])]
    }

    func policy(_ index: Int) -> JSONValue {
        role(index) == .timesOut ? ["deadline_seconds": 6] : [:]
    }

    /// One run in ten is a support reply and one a product card (declared features, their
    /// prompts built here as an app would); the rest are document summaries.
    func feature(_ index: Int) -> String {
        guard role(index) == .plain else { return "document_summary" }
        switch index % 10 {
        case 1: return DemoFeatures.supportReply
        case 2: return DemoFeatures.productCard
        default: return "document_summary"
        }
    }

    func request(_ index: Int) -> (input: JSONValue, subject: Subject) {
        switch feature(index) {
        case DemoFeatures.supportReply:
            return (DemoFeatures.supportReplyPrompt(ticket: index + 1), Subject(type: "ticket", id: "\(index + 1)"))
        case DemoFeatures.productCard:
            return (DemoFeatures.productCardPrompt(product: index + 1), Subject(type: "product", id: "\(index + 1)"))
        default:
            return (input(index), Subject(type: "document", id: "\(index + 1)"))
        }
    }
}

/// Enqueues the plan, runs a submitter and a poller until every run is final, and measures.
struct DemoRunner {
    let store: any RunStore
    let configuration: KilnConfiguration
    let apiKey: APIKey
    let logger: Logger
    let plan: DemoPlan
    let timeout: Double
    let finishTime: @Sendable (ResponseID) -> Date?

    func run() async throws -> DemoReport {
        let service = RunService(
            store: store, features: configuration.features, policyDefaults: configuration.policy, limits: configuration.limits,
            actor: "demo")
        let tenant = TenantID("demo")
        var toCancelInFlight: [RunID] = []
        for index in 0..<plan.runs {
            let (input, subject) = plan.request(index)
            let run = try await service.enqueue(
                RunService.Request(
                    feature: plan.feature(index), tenant: tenant, subject: subject, input: input, policy: plan.policy(index),
                    idempotencyKey: "demo-\(index)")
            ).run
            switch plan.role(index) {
            case .cancelledQueued: _ = try await service.cancel(run.id, tenant: tenant)
            case .cancelledInFlight: toCancelInFlight.append(run.id)
            default: break
            }
        }
        // One long document, cut into a tree of child runs (limits.max_input_chars is one request).
        let longDocument = try await service.enqueue(
            RunService.Request(
                feature: "document_summary", tenant: tenant, subject: Subject(type: "document", id: "annual-report"),
                input: [
                    "text": .string(SampleDocuments.long(characters: 3 * configuration.limits.maxInputChars + 50_000)), "length": "long",
                ],
                idempotencyKey: "demo-long-document")
        ).run
        let total = plan.runs + 1
        let client = HTTPResponsesClient(settings: configuration.provider, apiKey: apiKey, logger: logger)
        let environment = WorkerEnvironment(
            store: store, client: client, configuration: configuration, owner: GlobalOptions.processIdentity, logger: logger)
        let wakeup = Wakeup()
        let submitterWakeup = Wakeup()
        let group = ServiceGroup(
            services: [
                SubmitterService(submitter: Submitter(environment: environment), wakeup: submitterWakeup, onAccepted: wakeup),
                PollerService(poller: Poller(environment: environment), wakeup: wakeup, onReleased: submitterWakeup),
            ], logger: logger)
        let started = Date()
        let progress = ProgressLine()
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var pending = Set(toCancelInFlight)
                while true {
                    let summary = try await store.summary()
                    let done = summary.counts.filter { RunStatus(rawValue: $0.key)?.isTerminal == true }.values.reduce(0, +)
                    progress.show(
                        String(
                            format: "%5.1f s  queued %d · in flight %d · done %d/%d", Date().timeIntervalSince(started),
                            summary.counts["queued"] ?? 0, summary.inFlight, done, total))
                    if done >= total { break }
                    if Date().timeIntervalSince(started) > timeout {
                        throw KilnError(.conflict, "the demo did not finish within \(Int(timeout)) s (\(done)/\(total) runs final)")
                    }
                    for id in pending {
                        if let run = try await store.run(id, tenant: tenant), run.status == .inProgress {
                            _ = try await service.cancel(id, tenant: tenant)
                            pending.remove(id)
                        }
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
                progress.finish()
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        var runs = try await store.runs(matching: RunQuery(tenant: tenant, limit: total))
        var tree: (Run, [TreeChild])?
        if let parent = try await store.run(longDocument.id, tenant: tenant) {
            tree = (parent, try await store.treeChildren(of: parent.id, level: nil))
        }
        // A support agent accepts the first reply draft waiting for review.
        var review: RunEvent?
        if let draft = runs.filter({ $0.reviewState == "pending" }).min(by: { $0.createdAt < $1.createdAt }) {
            let reviewed = try await service.review(draft.id, tenant: tenant, .accept, by: "agent@demo")
            runs = runs.map { $0.id == reviewed.id ? reviewed : $0 }
            review = try await store.events(of: draft.id).last
        }
        return DemoReport(runs: runs, elapsed: Date().timeIntervalSince(started), finishTime: finishTime, review: review, tree: tree)
    }
}

/// A progress line: rewritten in place on a terminal, plain lines once a second otherwise.
final class ProgressLine: @unchecked Sendable {
    private let isTerminal = isatty(1) == 1
    private var lastPlain = Date.distantPast

    func show(_ text: String) {
        if isTerminal {
            FileHandle.standardOutput.write(Data(("\r" + text + "   ").utf8))
        } else if Date().timeIntervalSince(lastPlain) >= 1 {
            lastPlain = Date()
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardOutput.write(Data("\n".utf8)) }
    }
}

/// Unbuffered standard output, so lines keep their order with the progress line.
enum Console {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }
}
