import ArgumentParser
import Foundation
import Hummingbird
import KilnDomain
import KilnSimulator

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a local server that speaks OpenAI's Responses API (background mode), with faults on demand.",
        discussion: """
            Endpoints: POST /v1/responses, GET /v1/responses/{id}, POST /v1/responses/{id}/cancel, \
            DELETE /v1/responses/{id}; GET /_sim/stats and GET /_sim/runs/{kiln_run_id} report what it saw. \
            Durations are provider seconds, run --time-scale times faster. A document containing \
            [sim:fail], [sim:incomplete], [sim:refuse], [sim:stuck], [sim:generation=S] or [sim:queue=S] \
            gets that outcome or timing.
            """)

    @Option(help: "Port on 127.0.0.1 (0 picks a free one).") var port = 8089
    @Option(help: "Require this API key (Bearer or api-key header); other keys get 401.") var apiKey: String?
    @Option(help: "Seed of every random choice.") var seed: UInt64 = 1
    @Option(help: "Provider seconds per real second.") var timeScale = 1.0
    @Option(help: "Shortest queue wait (provider s).") var queueWaitMin = 0.0
    @Option(help: "Longest queue wait (provider s).") var queueWaitMax = 2.0
    @Option(help: "Longest queue wait with a 2h/8h completion window (provider s).") var windowQueueWaitMax = 600.0
    @Option(help: "Median generation time (provider s), log-normal.") var generationMedian = 20.0
    @Option(help: "σ of the log-normal generation time.") var generationSigma = 0.6
    @Option(help: "Share of responses that fail.") var failedShare = 0.0
    @Option(help: "Share of responses that end incomplete (max_output_tokens).") var incompleteShare = 0.0
    @Option(help: "Share of responses that stay queued for ever.") var stuckShare = 0.0
    @Option(help: "Provider seconds a finished response is kept before answering 404 (0: for ever).") var retention = 0.0
    @Option(help: "Share of /v1 calls answered with a fault.") var faultRate = 0.0
    @Option(help: "Faults to draw from, comma-separated: 429,500,503,drop,slow,truncated.") var faults = "429,500,503,drop,slow,truncated"
    @Option(help: "Real seconds a slow answer waits.") var slowSeconds = 2.0

    func simulatorConfiguration() throws -> SimulatorConfiguration {
        var c = SimulatorConfiguration()
        c.apiKey = apiKey
        c.seed = seed
        c.timeScale = timeScale
        c.queueWaitMin = queueWaitMin
        c.queueWaitMax = queueWaitMax
        c.windowQueueWaitMax = windowQueueWaitMax
        c.generationMedian = generationMedian
        c.generationSigma = generationSigma
        c.failedShare = failedShare
        c.incompleteShare = incompleteShare
        c.stuckShare = stuckShare
        c.retention = retention
        c.faultRate = faultRate
        c.slowSeconds = slowSeconds
        c.faultMix = try faults.split(separator: ",").map { name in
            guard let fault = SimulatorFault(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw KilnError(
                    .invalidArgument, "--faults: unknown fault \"\(name.prefix(20))\"; known: 429, 500, 503, drop, slow, truncated")
            }
            return fault
        }
        guard timeScale > 0 else { throw KilnError(.invalidArgument, "--time-scale must be > 0, got \(timeScale)") }
        guard queueWaitMin >= 0, queueWaitMax >= queueWaitMin else {
            throw KilnError(.invalidArgument, "--queue-wait-min/--queue-wait-max must satisfy 0 ≤ min ≤ max")
        }
        guard generationMedian > 0, generationSigma >= 0 else {
            throw KilnError(.invalidArgument, "--generation-median must be > 0 and --generation-sigma ≥ 0")
        }
        for (name, share) in [("failed", failedShare), ("incomplete", incompleteShare), ("stuck", stuckShare), ("fault", faultRate)] {
            guard (0...1).contains(share) else {
                throw KilnError(.invalidArgument, "--\(name)-\(name == "fault" ? "rate" : "share") must be in 0...1, got \(share)")
            }
        }
        guard failedShare + incompleteShare + stuckShare <= 1 else {
            throw KilnError(.invalidArgument, "--failed-share + --incomplete-share + --stuck-share must be ≤ 1")
        }
        guard (0...65535).contains(port) else { throw KilnError(.invalidArgument, "--port must be in 0...65535, got \(port)") }
        return c
    }

    func run() async throws {
        let simulator = Simulator(configuration: try simulatorConfiguration())
        let app = simulator.application(port: port) { bound in
            FileHandle.standardOutput.write(Data("kiln simulator listening on http://127.0.0.1:\(bound)/v1\n".utf8))
        }
        try await app.runService()
    }
}
