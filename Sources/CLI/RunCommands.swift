import ArgumentParser
import Foundation
import KilnDomain

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the ai_runs tables (safe to run at any time).")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        _ = try global.loadConfiguration()
        _ = try await global.openStore()
        print("migrated")
    }
}

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue", abstract: "Add a run; prints its id (the same tenant + idempotency key gives the same run).")
    @OptionGroup var global: GlobalOptions

    @Argument(help: "The feature, e.g. document_summary.") var feature: String
    @Option(help: "Tenant the run belongs to.") var tenant: String
    @Option(help: "User who asked for it.") var user: String?
    @Option(help: "The record the run is about, as TYPE:ID.") var subject: String?
    @Option(help: "The feature's input, a JSON object.") var input: String?
    @Option(help: "Read the input JSON from this file.") var inputFile: String?
    @Option(help: "Policy overrides, a JSON object (model, max_output_tokens, deadline_seconds, …).") var policy: String?
    @Option(help: "Idempotency key, unique per tenant.") var idempotencyKey: String?
    @Flag(help: "Print the run as JSON.") var json = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let inputText: String
        switch (input, inputFile) {
        case (let text?, nil): inputText = text
        case (nil, let path?):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw KilnError(.invalidArgument, "cannot read --input-file \(path)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw KilnError(.invalidArgument, "--input-file \(path) is not UTF-8 text")
            }
            inputText = text
        case (nil, nil): throw KilnError(.invalidArgument, "give the run's input with --input JSON or --input-file PATH")
        case (_?, _?): throw KilnError(.invalidArgument, "give either --input or --input-file, not both")
        }
        let request = RunService.Request(
            feature: feature, tenant: TenantID(tenant), user: user,
            subject: try subject.map { text throws(KilnError) in try Subject(parsing: text) },
            input: try JSONValue.parse(inputText, what: "--input"),
            policy: try policy.map { text throws(KilnError) in try JSONValue.parse(text, what: "--policy") } ?? .object([:]),
            idempotencyKey: idempotencyKey)
        // Check what needs no database before opening it.
        _ = try configuration.features.policy(feature: feature, overrides: request.policy, defaults: configuration.policy)
        try configuration.features.feature(named: feature).validate(input: request.input, limits: configuration.limits)
        let service = RunService(
            store: try await global.openStore(), features: configuration.features, policyDefaults: configuration.policy,
            limits: configuration.limits, actor: GlobalOptions.processIdentity,
            tree: DocumentTree(settings: configuration.documents, limits: configuration.limits, prices: configuration.prices))
        let outcome = try await service.enqueue(request)
        print(json ? try Output.json(outcome.run) : outcome.run.id.rawValue)
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one run of a tenant.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (run_…).") var runID: String
    @Option(help: "Tenant the run belongs to.") var tenant: String
    @Flag(help: "Print the run as JSON.") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        let service = RunService(store: try await global.openStore())
        let run = try await service.run(RunID(runID), tenant: TenantID(tenant))
        if json {
            print(try Output.json(run))
            return
        }
        var waiting: String?
        if run.status == .queued, run.waitReason != nil {
            let held = try await service.store.events(of: run.id).last { $0.kind == "held" }
            waiting = held.flatMap(QuotaCheck.Hold.init(event:)).map {
                "\($0.sentence); looked at again at \(Timestamp.format(run.availableAt))"
            }
        }
        print(RunText.describe(run, waiting: waiting))
        if let progress = try await service.treeProgress(of: run) {
            print("tree:       working level \(run.level ?? 0)")
            for line in progress.lines { print("  \(line)") }
        }
    }
}

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List runs, newest first.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this tenant's runs.") var tenant: String?
    @Option(help: "Only runs in this status.") var status: String?
    @Option(help: "At most this many runs.") var limit = 100
    @Flag(help: "Long documents' children too.") var children = false
    @Flag(help: "Print a JSON array of runs.") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        guard (1...100_000).contains(limit) else {
            throw KilnError(.invalidArgument, "--limit must be in 1...100000, got \(limit)")
        }
        let statusFilter = try status.map { text throws(KilnError) in try RunStatus(parsing: text) }
        let service = RunService(store: try await global.openStore())
        let runs = try await service.list(
            RunQuery(tenant: tenant.map(TenantID.init), status: statusFilter, limit: limit, includeChildren: children))
        if json {
            print(try Output.json(runs))
        } else {
            for run in runs { print(RunText.line(run)) }
        }
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a run: a queued run at once; an in-flight run is cancelled at the provider by the poller.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (run_…).") var runID: String
    @Option(help: "Tenant the run belongs to.") var tenant: String
    @Flag(help: "Print the run as JSON.") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        let service = RunService(store: try await global.openStore(), actor: GlobalOptions.processIdentity)
        let run = try await service.cancel(RunID(runID), tenant: TenantID(tenant))
        if json {
            print(try Output.json(run))
        } else if run.status == .cancelled {
            print("\(run.id) cancelled")
        } else if run.status.isTerminal {
            print("\(run.id) already \(run.status.rawValue); nothing to cancel")
        } else {
            print("\(run.id) cancel requested (\(run.status.rawValue)); the poller cancels it at the provider")
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Counts by status, oldest queued run, runs in flight, cost so far.")
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print as JSON (counts under \"counts\").") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        let summary = try await RunService(store: try await global.openStore()).summary()
        if json {
            print(try Output.json(summary))
            return
        }
        for status in RunStatus.allCases {
            print("\(status.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(summary.counts[status.rawValue] ?? 0)")
        }
        print("in flight    \(summary.inFlight)")
        if summary.childCounts.values.contains(where: { $0 > 0 }) {
            let parts = RunStatus.allCases.compactMap { status in
                summary.childCounts[status.rawValue].map { "\(status.rawValue) \($0)" }
            }
            print("long documents' children (counted apart): \(parts.joined(separator: ", "))")
        }
        print("oldest queued \(summary.oldestQueuedAt.map(Timestamp.format) ?? "-")")
        print(String(format: "cost         $%.6f", Double(summary.costMicros) / 1_000_000))
        print("possible duplicates \(summary.possibleDuplicates)")
        print(
            String(
                format: "orphan responses %d ($%.6f, included in the cost)", summary.orphanResponses,
                Double(summary.orphanCostMicros) / 1_000_000))
        if !summary.waiting.isEmpty {
            let reasons = summary.waiting.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            print("held by a limit: \(reasons.joined(separator: ", "))")
        }
        if let at = summary.quotaExhaustedAt {
            print("provider quota exhausted, last at \(Timestamp.format(at)) (no run is sent for submitter.quota_pause_seconds after it)")
        }
        if !summary.batches.isEmpty {
            print("batches (the batch lane): \(summary.batchesText)")
        }
        if summary.providerDeletionsGivenUp > 0 {
            print(
                "provider deletions given up \(summary.providerDeletionsGivenUp) (the provider keeps those responses until its retention ends)"
            )
        }
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "The audit trail of one run.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (run_…).") var runID: String
    @Option(help: "Tenant the run belongs to.") var tenant: String
    @Flag(help: "Print a JSON array.") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        let service = RunService(store: try await global.openStore())
        let run = try await service.run(RunID(runID), tenant: TenantID(tenant))
        let events = try await service.store.events(of: run.id)
        if json {
            print(try Output.json(events))
        } else {
            for event in events {
                print(
                    "\(Timestamp.format(event.at)) \(event.fromStatus?.rawValue ?? "-") → \(event.toStatus.rawValue) \(event.kind) by \(event.actor) \(event.details.jsonText)"
                )
            }
        }
    }
}
