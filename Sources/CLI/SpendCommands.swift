import ArgumentParser
import Foundation
import KilnDomain

/// `30d`, `12h`, `45m`, `90s`, or a contract timestamp: a moment that long ago, or that moment.
enum Moment {
    static func parse(_ text: String, option: String, now: Date = Date()) throws(KilnError) -> Date {
        if let date = Timestamp.parse(text) { return date }
        let units: [Character: Double] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
        guard let unit = text.last.flatMap({ units[$0] }), let count = Double(text.dropLast()), count >= 0, count <= 36_500 else {
            throw KilnError(
                .invalidArgument, "\(option) must be a duration like 30d, 12h, 45m or a timestamp, got \"\(text.prefix(40))\"")
        }
        return now.addingTimeInterval(-count * unit)
    }
}

/// `kiln spend`: tokens and cost per tenant, feature, model and day.
struct SpendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spend", abstract: "Tokens and cost per tenant, feature, model and UTC day (kept when runs are pruned).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this tenant's spend (default: every tenant).") var tenant: String?
    @Option(help: "Only this feature.") var feature: String?
    @Option(help: "From this long ago (30d, 12h) or this timestamp.") var since = "30d"
    @Flag(help: "Print a JSON array of rows.") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        let from = try Moment.parse(since, option: "--since")
        let rows = try await RunService(store: try await global.openStore()).spend(
            tenant: tenant.map(TenantID.init), feature: feature, since: from)
        if json {
            print(try Output.json(rows))
            return
        }
        print("day         tenant               feature                  model          runs   input tok  cached tok  output tok   cost $")
        for row in rows {
            print(
                String(
                    format: "%@  %@ %@ %@ %6d %11d %11d %11d %10.6f", row.day, pad(row.tenantID.rawValue, 20), pad(row.feature, 24),
                    pad(row.model.isEmpty ? "(default)" : row.model, 14), row.runs, row.inputTokens, row.cachedInputTokens,
                    row.outputTokens,
                    Double(row.costMicros) / 1_000_000))
        }
        let total = rows.total
        print(
            String(
                format: "total       %@ %6d %11d %11d %11d %10.6f", pad("", 60), total.runs, total.inputTokens, total.cachedInputTokens,
                total.outputTokens, Double(total.costMicros) / 1_000_000))
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width)) : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}

/// `kiln prune`: delete old finished runs and their events, in short batches.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete runs that ended before a moment, with their events, in short batches; spend is kept.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Runs that ended more than this long ago (90d) or before this timestamp.") var finalizedBefore: String
    @Option(help: "Runs deleted per transaction (workers go on between batches).") var batchSize = 1_000
    @Flag(help: "Print {\"deleted\": N} as JSON.") var json = false

    func run() async throws {
        let cutoff = try Moment.parse(finalizedBefore, option: "--finalized-before")
        guard (1...100_000).contains(batchSize) else {
            throw KilnError(.invalidArgument, "--batch-size must be in 1...100000, got \(batchSize)")
        }
        let configuration = try global.loadConfiguration()
        let store = try await global.openStore()
        var deleted = 0
        while true {
            let batch = try await store.prune(
                finalizedBefore: cutoff, limit: batchSize, deletingAfterFinalize: configuration.provider.deleteAfterFinalize)
            deleted += batch
            if batch == 0 { break }  // a short batch may only mean rows another process held
            await Task.yield()
        }
        print(json ? #"{"deleted": \#(deleted)}"# : "deleted \(deleted) runs that ended before \(Timestamp.format(cutoff)); spend is kept")
    }
}

/// `kiln erase`: the right to erasure, for a tenant or one of its records.
struct EraseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "erase",
        abstract:
            "Erase the inputs and outputs of a tenant's finished runs (or one record's), keeping tombstones; deletes them at the provider.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "The tenant whose runs are erased.") var tenant: String
    @Option(help: "Only the runs about this record (TYPE:ID).") var subject: String?
    @Flag(help: "Print the outcome as JSON.") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        let record = try subject.map { text throws(KilnError) in try Subject(parsing: text) }
        let outcome = try await RunService(store: try await global.openStore(), actor: GlobalOptions.processIdentity).erase(
            tenant: TenantID(tenant), subject: record)
        if json {
            print(try Output.json(outcome))
        } else {
            print(
                "erased \(outcome.erased) runs of tenant \(tenant)\(subject.map { " about \($0)" } ?? ""); their responses are deleted at the provider by the poller"
                    + (outcome.stillRunning > 0
                        ? "; \(outcome.stillRunning) not finished, left alone (cancel them or erase again later)" : ""))
        }
    }
}
