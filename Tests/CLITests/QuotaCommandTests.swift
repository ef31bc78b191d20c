import Foundation
import KilnSimulator
import Testing

/// A tenant's limits from the shell: set, shown, applied by a worker (the held run and its
/// reason in `kiln show` and `kiln status`), raised, cleared; bad values refused.
@Suite("kiln: tenant quotas from the shell")
struct QuotaCommandTests {
    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test func aTenantsCapHoldsItsRunUntilRaised() async throws {
        let kiln = try KilnProcess()
        var simulatorConfiguration = SimulatorConfiguration()
        simulatorConfiguration.apiKey = "sk-quota-test-0123456789"
        simulatorConfiguration.generationMedian = 0.2
        simulatorConfiguration.queueWaitMax = 0.05
        let simulator = Simulator(configuration: simulatorConfiguration)
        try await simulator.withRunning { base in
            let environment = ["OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-quota-test-0123456789", "KILN_QUOTAS_CHECK_SECONDS": "1"]
            let set = try await kiln.run(["quota", "set", "--tenant", "acme", "--daily-cost-micros", "100"], environment: environment)
            #expect(set.status == 0, "\(set.stderr)")
            let shown = try json(try await kiln.run(["quota", "show", "--json"], environment: environment).stdout)
            let tenants = try #require(shown["tenants"] as? [String: [String: Any]])
            #expect(tenants["acme"]?["daily_cost_micros"] as? Int == 100)
            #expect(tenants["acme"]?["max_in_flight"] is NSNull, "left out: the configured (none)")

            let enqueued = try await kiln.run(
                ["enqueue", "document_summary", "--tenant", "acme", "--input", #"{"text": "A short report."}"#], environment: environment)
            let id = enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try await kiln.run(["work", "--once"], environment: environment)
            let show = try await kiln.run(["show", id, "--tenant", "acme"], environment: environment)
            #expect(show.stdout.contains("status:     queued"), "\(show.stdout)")
            #expect(show.stdout.contains("waiting:    tenant acme's daily cost cap of $0.000100 would be exceeded"), "\(show.stdout)")
            let status = try json(try await kiln.run(["status", "--json"], environment: environment).stdout)
            #expect((status["waiting"] as? [String: Int])?["tenant_daily_cost"] == 1)

            let raised = try await kiln.run(
                ["quota", "set", "--tenant", "acme", "--daily-cost-micros", "1000000"], environment: environment)
            #expect(raised.status == 0, "\(raised.stderr)")
            _ = try await kiln.run(["work", "--once"], environment: environment)
            let run = try json(try await kiln.run(["show", id, "--tenant", "acme", "--json"], environment: environment).stdout)
            #expect(run["submitted_at"] is String, "sent once the cap was raised: \(run)")
            #expect(run["wait_reason"] is NSNull)

            let cleared = try await kiln.run(["quota", "clear", "--tenant", "acme"], environment: environment)
            #expect(cleared.status == 0)
            let after = try json(try await kiln.run(["quota", "show", "--json"], environment: environment).stdout)
            #expect((after["tenants"] as? [String: Any])?.isEmpty == true)
        }
    }

    @Test func badLimitsAreRefusedAndNothingIsWritten() async throws {
        let kiln = try KilnProcess()
        let negative = try await kiln.run(["quota", "set", "--tenant", "acme", "--max-in-flight=-1"])
        #expect(negative.status != 0)
        #expect(negative.stderr.contains("quota.max_in_flight must be ≥ 0, got -1"), "\(negative.stderr)")
        let empty = try await kiln.run(["quota", "set", "--tenant", "acme"])
        #expect(empty.status != 0)
        #expect(empty.stderr.contains("needs --max-in-flight"), "\(empty.stderr)")
        let config = try await kiln.run(["quota", "show"], environment: ["KILN_QUOTAS_FEATURES": #"{"x": {"max_in_flight": "lots"}}"#])
        #expect(config.status != 0)
        #expect(config.stderr.contains("quotas.features"), "\(config.stderr)")
        let shown = try json(try await kiln.run(["quota", "show", "--json"]).stdout)
        #expect((shown["tenants"] as? [String: Any])?.isEmpty == true, "nothing written")
    }
}
