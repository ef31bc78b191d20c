import Foundation
import KilnSimulator
import Testing

/// The operator side from the shell: a cron pass's metrics file and JSON log lines.
@Suite("kiln: metrics file and JSON logs")
struct OperatorCommandTests {
    @Test func aCronPassWritesItsMetricsAndLogsJSONLines() async throws {
        let kiln = try KilnProcess()
        var simulatorConfiguration = SimulatorConfiguration()
        simulatorConfiguration.apiKey = "sk-operator-test-0123456789"
        simulatorConfiguration.generationMedian = 0.1
        simulatorConfiguration.queueWaitMax = 0.02
        let simulator = Simulator(configuration: simulatorConfiguration)
        try await simulator.withRunning { base in
            let environment = [
                "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-operator-test-0123456789", "KILN_LOG_FORMAT": "json",
                "KILN_LOG_LEVEL": "debug",
            ]
            let enqueued = try await kiln.run(
                ["enqueue", "document_summary", "--tenant", "acme", "--input", #"{"text": "A short report."}"#], environment: environment)
            let id = enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let pass = try await kiln.run(["work", "--once", "--metrics-file", "kiln.prom"], environment: environment)
            #expect(pass.status == 0, "\(pass.stderr)")
            let lines = pass.stderr.split(separator: "\n").filter { !$0.isEmpty }
            #expect(!lines.isEmpty)
            var sawRun = false
            for line in lines {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "a JSON line: \(line)")
                #expect(object["level"] is String && object["message"] is String && object["ts"] is String)
                if object["run_id"] as? String == id { sawRun = true }
                #expect(!line.contains("sk-operator-test"), "no API key in a log line")
            }
            #expect(sawRun, "the run's id is a field")
            let metrics = try String(contentsOfFile: kiln.directory.appendingPathComponent("kiln.prom").path, encoding: .utf8)
            #expect(metrics.contains("kiln_provider_requests_total{operation=\"create\",outcome=\"2xx\"} 1"), "\(metrics)")
            #expect(metrics.contains("kiln_last_pass_timestamp_seconds{worker=\"submitter\"}"))
            #expect(metrics.contains("# TYPE kiln_runs gauge"))
        }
    }
}
