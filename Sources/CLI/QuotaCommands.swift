import ArgumentParser
import Foundation
import KilnDomain

/// `kiln quota`: a tenant's own limits (`kiln_tenant_quotas`), over the `quotas` configuration.
struct QuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Show or set a tenant's own limits: runs in flight, cost per day and per month.",
        discussion: """
            A tenant's row overrides the `quotas.tenant_*` configuration key by key; a limit left out \
            keeps the configured one. Runs held by a limit stay queued with their wait_reason and are \
            looked at again at once when the tenant's limits change.
            """,
        subcommands: [QuotaShowCommand.self, QuotaSetCommand.self, QuotaClearCommand.self])
}

struct QuotaShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "The limits that apply: each tenant's own (or one tenant's) and the configured defaults.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this tenant.") var tenant: String?
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let overrides = try await RunService(store: try await global.openStore()).quotas(tenant: tenant.map(TenantID.init))
        var tenants = overrides.keys.map(\.rawValue).sorted()
        if let tenant, !tenants.contains(tenant) { tenants = [tenant] }
        let defaults = configuration.quotas.tenant
        if json {
            var object: [String: JSONValue] = ["defaults": Self.json(defaults)]
            object["features"] = .object(configuration.quotas.features.mapValues(Self.json))
            object["tenants"] = .object(
                Dictionary(uniqueKeysWithValues: tenants.map { ($0, Self.json(defaults.overridden(by: overrides[TenantID($0)]))) }))
            print(JSONValue.object(object).jsonText)
            return
        }
        print("every tenant (quotas.tenant_*): \(Self.text(defaults))")
        for (feature, limits) in configuration.quotas.features.sorted(by: { $0.key < $1.key }) {
            print("feature \(feature) (quotas.features): \(Self.text(limits))")
        }
        for tenant in tenants {
            let own = overrides[TenantID(tenant)]
            print("tenant \(tenant)\(own == nil ? " (configured defaults)" : ""): \(Self.text(defaults.overridden(by: own)))")
        }
    }

    static func json(_ limits: QuotaLimits) -> JSONValue {
        func number<T: BinaryInteger>(_ value: T?) -> JSONValue { value.map { .number(Double($0)) } ?? .null }
        return .object([
            "max_in_flight": number(limits.maxInFlight), "daily_cost_micros": number(limits.dailyCostMicros),
            "monthly_cost_micros": number(limits.monthlyCostMicros),
        ])
    }

    static func text(_ limits: QuotaLimits) -> String {
        func dollars(_ micros: Int64?) -> String { micros.map { String(format: "$%.2f", Double($0) / 1_000_000) } ?? "no cap" }
        let inFlight = limits.maxInFlight.map { "\($0) in flight" } ?? "no in-flight limit"
        return "\(inFlight), \(dollars(limits.dailyCostMicros)) a day, \(dollars(limits.monthlyCostMicros)) a month"
    }
}

struct QuotaSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Set a tenant's own limits (replacing any it had); those left out keep the configured ones.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "The tenant.") var tenant: String
    @Option(help: "Runs of the tenant at the provider at once.") var maxInFlight: Int?
    @Option(help: "What the tenant may spend per UTC day, in millionths of a dollar.") var dailyCostMicros: Int64?
    @Option(help: "What the tenant may spend per calendar month (UTC), in millionths of a dollar.") var monthlyCostMicros: Int64?

    func run() async throws {
        _ = try global.loadConfiguration()
        let limits = QuotaLimits(maxInFlight: maxInFlight, dailyCostMicros: dailyCostMicros, monthlyCostMicros: monthlyCostMicros)
        guard !limits.isEmpty else {
            throw KilnError(
                .invalidArgument,
                "kiln quota set needs --max-in-flight, --daily-cost-micros or --monthly-cost-micros (kiln quota clear removes them)")
        }
        try await RunService(store: try await global.openStore()).setQuota(tenant: TenantID(tenant), limits)
        let set = [
            maxInFlight.map { "\($0) in flight" }, dailyCostMicros.map { "\($0) µ$ a day" }, monthlyCostMicros.map { "\($0) µ$ a month" },
        ].compactMap { $0 }
        print("tenant \(tenant): \(set.joined(separator: ", ")); the configured value for the rest; held runs are looked at again now")
    }
}

struct QuotaClearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear", abstract: "Remove a tenant's own limits: the configured ones apply again.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "The tenant.") var tenant: String

    func run() async throws {
        _ = try global.loadConfiguration()
        try await RunService(store: try await global.openStore()).setQuota(tenant: TenantID(tenant), nil)
        print("tenant \(tenant): the configured limits apply")
    }
}
