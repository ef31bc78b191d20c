import Foundation
import KilnSimulator
import KilnTestSupport
import Testing

/// Bad input of every kind: one clear line naming the problem, a non-zero exit, nothing written.
@Suite("kiln: bad input is refused clearly")
struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let arguments: [String]
        var environment: [String: String] = [:]
        var files: [String: String] = [:]
        let message: String
        var testDescription: String { name }
    }

    static let valid = #"{"text":"A document."}"#

    static let cases: [Case] = [
        Case(
            name: "unknown feature", arguments: ["enqueue", "translate", "--tenant", "t", "--input", valid],
            message: "unknown feature \"translate\""),
        Case(
            name: "input not JSON", arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", "{text:"],
            message: "--input is not valid JSON"),
        Case(
            name: "input lacks text", arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", "{}"],
            message: "input.text is required"),
        Case(
            name: "input text not a string", arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", #"{"text":[1]}"#],
            message: "input.text must be a string"),
        Case(
            name: "policy out of range",
            arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", valid, "--policy", #"{"max_output_tokens":-1}"#],
            message: "policy.max_output_tokens"),
        Case(
            name: "unknown policy key",
            arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", valid, "--policy", #"{"max_tokens":5}"#],
            message: "unknown policy key \"max_tokens\""),
        Case(
            name: "document over the size limit",
            arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", #"{"text":"0123456789ABC"}"#],
            environment: ["KILN_LIMITS_MAX_INPUT_CHARS": "10", "KILN_LIMITS_MAX_DOCUMENT_CHARS": "10"],
            message: "limits.max_document_chars is 10"),
        Case(
            name: "input and input file both",
            arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", valid, "--input-file", "x.json"], message: "not both"),
        Case(
            name: "missing input file",
            arguments: ["enqueue", "document_summary", "--tenant", "t", "--input-file", "/nonexistent/doc.json"],
            message: "cannot read --input-file /nonexistent/doc.json"),
        Case(
            name: "bad subject", arguments: ["enqueue", "document_summary", "--tenant", "t", "--input", valid, "--subject", "document"],
            message: "subject must be TYPE:ID"),
        Case(
            name: "empty tenant", arguments: ["enqueue", "document_summary", "--tenant", "", "--input", valid],
            message: "tenant must be 1–128 characters"),
        Case(name: "unknown status filter", arguments: ["list", "--status", "done"], message: "unknown status \"done\""),
        Case(
            name: "unknown configuration key", arguments: ["status", "--config", "bad.json"],
            files: ["bad.json": #"{"poller":{"max_intervall_seconds":10}}"#],
            message: "unknown configuration key poller.max_intervall_seconds"),
        Case(
            name: "configuration value of the wrong type", arguments: ["status", "--config", "bad.json"],
            files: ["bad.json": #"{"poller":{"batch_size":"many"}}"#], message: "poller.batch_size"),
        Case(
            name: "configuration value out of range", arguments: ["status"], environment: ["KILN_POLLER_MAX_INTERVAL_SECONDS": "900"],
            message: "poller.max_interval_seconds must be"),
        Case(
            name: "configuration file not JSON", arguments: ["status", "--config", "bad.json"], files: ["bad.json": "poller: 1"],
            message: "is not valid JSON"),
        Case(
            name: "missing configuration file", arguments: ["status", "--config", "/nonexistent/kiln.json"],
            message: "cannot read configuration file /nonexistent/kiln.json"),
        Case(
            name: "unreadable database path", arguments: ["status", "--database", "/nonexistent/dir/kiln.sqlite"],
            message: "could not open the SQLite database at /nonexistent/dir/kiln.sqlite"),
        Case(name: "database path is a directory", arguments: ["status", "--database", "/tmp"], message: "is a directory"),
        Case(
            name: "unsupported database URL", arguments: ["status", "--database", "mysql://db/kiln"],
            message: "unsupported scheme \"mysql\""),
        Case(
            name: "PostgreSQL URL without a database", arguments: ["status", "--database", "postgres://kiln@127.0.0.1:5432"],
            message: "names no database"),
        Case(
            name: "PostgreSQL server unreachable",
            arguments: ["status", "--database", "postgres://kiln:s3cret-pw@127.0.0.1:9/kiln?sslmode=disable"],
            message: "cannot connect to PostgreSQL at 127.0.0.1:9/kiln"),
        Case(
            name: "feature declaration with an unknown key",
            arguments: ["enqueue", "product_card", "--tenant", "t", "--input", #"{"input":"x"}"#, "--config", "bad.json"],
            files: ["bad.json": #"{"features":{"product_card":{"prompt_version":"v1","schema":{}}}}"#],
            message: "features.product_card has unknown key \"schema\""),
        Case(
            name: "feature schema strict mode cannot send",
            arguments: ["enqueue", "product_card", "--tenant", "t", "--input", #"{"input":"x"}"#, "--config", "bad.json"],
            files: [
                "bad.json":
                    #"{"features":{"product_card":{"prompt_version":"v1","output_schema":{"type":"object","properties":{"a":{"type":"string"}}}}}}"#
            ],
            message: "features.product_card.output_schema"),
        Case(
            name: "feature name taken by a built-in", arguments: ["status", "--config", "bad.json"],
            files: ["bad.json": #"{"features":{"document_summary":{"prompt_version":"v9"}}}"#],
            message: "features.document_summary: the name is already taken by a built-in feature"),
        Case(
            name: "feature policy key unknown", arguments: ["status", "--config", "bad.json"],
            files: ["bad.json": #"{"features":{"support_reply":{"prompt_version":"v1","policy":{"reviewed":true}}}}"#],
            message: "unknown policy key \"reviewed\" in features.support_reply.policy"),
        Case(
            name: "declared feature input with an unknown role",
            arguments: [
                "enqueue", "support_reply", "--tenant", "t", "--input", #"{"input":[{"role":"bot","content":"Hi"}]}"#, "--config",
                "features.json",
            ],
            files: ["features.json": #"{"features":{"support_reply":{"prompt_version":"v1"}}}"#],
            message: "support_reply input.input[0].role must be one of system, developer, user, assistant"),
        Case(
            name: "review edit without the edit", arguments: ["review", "run_x", "edit", "--tenant", "t"],
            message: "edit needs the edited output: --text TEXT or --json JSON"),
        Case(
            name: "review of an unknown run", arguments: ["review", "run_nope", "accept", "--tenant", "t"],
            message: "run run_nope not found for tenant t"),
        Case(
            name: "a dashboard on a public address without credentials", arguments: ["work", "--listen", "0.0.0.0:0"],
            environment: ["OPENAI_API_KEY": "sk-x"], message: "(not a loopback address) need credentials"),
        Case(
            name: "a dashboard password without a user", arguments: ["serve", "--listen", "127.0.0.1:0"],
            environment: ["KILN_HTTP_PASSWORD": "hunter2-hunter2"], message: "a dashboard password needs http.auth_user"),
        Case(
            name: "a metrics file without --once", arguments: ["work", "--metrics-file", "m.prom"],
            environment: ["OPENAI_API_KEY": "sk-x"], message: "--metrics-file is for --once passes"),
        Case(
            name: "an unknown log format", arguments: ["work", "--once"],
            environment: ["OPENAI_API_KEY": "sk-x", "KILN_LOG_FORMAT": "xml"], message: "log.format"),
        Case(
            name: "a webhook secret too short", arguments: ["work", "--once"],
            environment: ["OPENAI_API_KEY": "sk-x", "OPENAI_WEBHOOK_SECRET": "whsec_c2hvcnQ="], message: "OPENAI_WEBHOOK_SECRET"),
        Case(
            name: "an empty webhook secret", arguments: ["serve", "--listen", "127.0.0.1:0"],
            environment: ["OPENAI_WEBHOOK_SECRET": ""], message: "OPENAI_WEBHOOK_SECRET"),
        Case(
            name: "a listen address without a port", arguments: ["serve", "--listen", "localhost"],
            environment: ["OPENAI_WEBHOOK_SECRET": "whsec_" + Data(repeating: 7, count: 32).base64EncodedString()],
            message: "--listen must be HOST:PORT"),
        Case(name: "unknown run", arguments: ["show", "run_nope", "--tenant", "t"], message: "run run_nope not found for tenant t"),
        Case(name: "list limit out of range", arguments: ["list", "--limit", "0"], message: "--limit must be in"),
        Case(
            name: "unknown log level", arguments: ["work", "--once", "--log-level", "loud"], environment: ["OPENAI_API_KEY": "sk-x"],
            message: "--log-level: unknown level \"loud\""),
        Case(name: "no API key", arguments: ["work", "--once"], message: "no API key: set OPENAI_API_KEY or provider.api_key_file"),
        Case(
            name: "missing API key file", arguments: ["work", "--once"],
            environment: ["KILN_PROVIDER_API_KEY_FILE": "/nonexistent/openai.key"],
            message: "provider.api_key_file: cannot read /nonexistent/openai.key"),
        Case(
            name: "provider URL without a scheme", arguments: ["work", "--once"],
            environment: ["OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "api.openai.com/v1"],
            message: "provider.base_url must start with http:// or https://"),
    ]

    @Test(arguments: cases)
    func refused(_ bad: Case) async throws {
        let kiln = try KilnProcess()
        for (name, text) in bad.files { _ = try kiln.write(name, text) }
        let usesOwnDatabase = bad.arguments.contains("--database")
        let result = try await kiln.run(bad.arguments, environment: bad.environment, database: !usesOwnDatabase)
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(result.stderr)")
        #expect(result.stderr.contains(bad.message), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
        // Nothing was written: no run exists in the scratch database.
        if !usesOwnDatabase, FileManager.default.fileExists(atPath: kiln.databasePath) {
            let listed = try await kiln.run(["list", "--json"])
            #expect(
                listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]"
                    || listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        }
    }

    /// What the provider does wrong ends the run `failed` with a code that names it (with
    /// `max_attempts = 1`, so the first failure is the last), never a crash or a stuck run.
    struct ProviderCase: CustomTestStringConvertible, Sendable {
        let name: String
        let code: String
        var message = ""
        var testDescription: String { name }
    }

    static let providerCases: [ProviderCase] = [
        ProviderCase(name: "unreachable provider", code: "connection_refused", message: "connection refused"),
        ProviderCase(name: "wrong API key", code: "invalid_api_key", message: "Incorrect API key provided"),
        // A 200 to a create means the provider may hold a response: never silently resent.
        ProviderCase(name: "provider answers garbage", code: "possible_duplicate", message: "invalid_body"),
        ProviderCase(name: "provider answers 503 with an HTML page", code: "http_503"),
    ]

    @Test(arguments: providerCases)
    func providerProblemFailsTheRunWithAPreciseCode(_ bad: ProviderCase) async throws {
        let kiln = try KilnProcess()
        var configuration = SimulatorConfiguration()
        configuration.apiKey = "sk-right-key-0123456789"
        switch bad.code {
        case "possible_duplicate": (configuration.faultRate, configuration.faultMix) = (1, [.truncated])
        case "http_503": (configuration.faultRate, configuration.faultMix) = (1, [.unavailableHTML])
        default: break
        }
        let simulator = Simulator(configuration: configuration)
        try await simulator.withRunning { base in
            let id = try await kiln.run([
                "enqueue", "document_summary", "--tenant", "t", "--input", Self.valid, "--policy", #"{"max_attempts":1}"#,
            ]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            var environment = ["OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-right-key-0123456789"]
            if bad.code == "connection_refused" { environment["OPENAI_BASE_URL"] = "http://127.0.0.1:9/v1" }
            if bad.code == "invalid_api_key" { environment["OPENAI_API_KEY"] = "sk-wrong-key-0123456789" }
            let worked = try await kiln.run(["work", "--once"], environment: environment)
            #expect(worked.status == 0, "a provider problem is the run's, not the process's: \(worked.stderr)")
            #expect(!worked.stderr.contains("Fatal error"))
            let shown = try await kiln.run(["show", id, "--tenant", "t", "--json"])
            let run = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
            #expect(run["status"] as? String == "failed", "\(shown.stdout)")
            let error = try #require(run["error"] as? [String: Any], "\(shown.stdout)")
            #expect(error["code"] as? String == bad.code, "\(shown.stdout)")
            #expect(bad.message.isEmpty || (error["message"] as? String)?.contains(bad.message) == true, "\(shown.stdout)")
        }
    }
}
