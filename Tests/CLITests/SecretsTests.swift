import Foundation
import KilnSimulator
import KilnTestSupport
import Testing

/// The whole flow with known API keys, then a search for them everywhere Kiln writes.
@Suite("Secrets never reach the database, a log, an event or an error")
struct SecretsTests {
    static let key = "sk-kiln-secret-right-0123456789abcdefXYZ"
    static let wrongKey = "sk-kiln-secret-wrong-9876543210zyxwvuABC"

    @Test func knownKeysAppearNowhere() async throws {
        let kiln = try KilnProcess()
        var configuration = SimulatorConfiguration()
        configuration.apiKey = Self.key
        configuration.quotesKeyInErrors = true  // a careless server quoting the wrong key back in full
        configuration.generationMedian = 0.3
        configuration.queueWaitMax = 0.1
        let simulator = Simulator(configuration: configuration)
        try await simulator.withRunning { base in
            var printed = ""
            func run(_ arguments: [String], _ environment: [String: String] = [:]) async throws -> KilnProcess.Result {
                let result = try await kiln.run(arguments, environment: environment)
                printed += result.stdout + result.stderr
                return result
            }
            let inputs = ["A report.", "A report. [sim:fail]", "A report. [sim:incomplete]", "A report to cancel. [sim:generation=30]"]
            var ids: [String] = []
            for text in inputs {
                let result = try await run(["enqueue", "document_summary", "--tenant", "t", "--input", #"{"text":"\#(text)"}"#])
                ids.append(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            // The right key from a file, the most verbose log level.
            let keyFile = try kiln.write("openai.key", Self.key + "\n")
            let environment = [
                "OPENAI_BASE_URL": base, "KILN_PROVIDER_API_KEY_FILE": keyFile, "KILN_LOG_LEVEL": "trace",
                "KILN_POLLER_INITIAL_DELAY_SECONDS": "0.1", "KILN_POLLER_MIN_INTERVAL_SECONDS": "0.05",
            ]
            _ = try await run(["work", "--once"], environment)
            _ = try await run(["cancel", ids[3], "--tenant", "t"])
            for _ in 0..<100 {
                _ = try await run(["work", "--once"], environment)
                let status = try await kiln.run(["status", "--json"])
                if status.stdout.contains(#""in_flight" : 0"#) || status.stdout.contains(#""in_flight":0"#) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            // The wrong key, from the environment: the run fails with the provider's code.
            let refused = try await run(["enqueue", "document_summary", "--tenant", "t", "--input", #"{"text":"Refused."}"#])
            let refusedID = refused.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try await run(["work", "--once"], ["OPENAI_BASE_URL": base, "OPENAI_API_KEY": Self.wrongKey, "KILN_LOG_LEVEL": "trace"])
            let failed = try await run(["show", refusedID, "--tenant", "t", "--json"])
            #expect(failed.stdout.contains("invalid_api_key"), "\(failed.stdout)")
            #expect(failed.stdout.contains("Incorrect API key provided: <redacted>"), "the quoted key was redacted: \(failed.stdout)")

            for id in ids + [refusedID] {
                _ = try await run(["show", id, "--tenant", "t", "--json"])
                _ = try await run(["events", id, "--tenant", "t", "--json"])
            }
            _ = try await run(["list", "--json"])
            _ = try await run(["status", "--json"])
            // The flow did happen: every run reached a final state.
            let statuses = try await run(["list", "--json"]).stdout
            #expect(!statuses.contains(#""status" : "in_progress""#) && !statuses.contains(#""status" : "queued""#), "\(statuses)")
            #expect(printed.contains("debug") || printed.contains("trace"), "the logs were verbose")

            // Every byte Kiln wrote: the database files, what it printed.
            var written = printed
            for file in try FileManager.default.contentsOfDirectory(atPath: kiln.directory.path) where file.hasPrefix("kiln.sqlite") {
                let data = try Data(contentsOf: kiln.directory.appendingPathComponent(file))
                written += String(decoding: data, as: UTF8.self)
            }
            for secret in [Self.key, Self.wrongKey] {
                #expect(!written.contains(secret), "a key was written")
                #expect(!written.contains(String(secret.prefix(24))), "part of a key was written")
            }
        }
    }
}
