import ArgumentParser
import Foundation
import KilnDomain
import KilnPoller
import KilnProvider
import KilnSimulator
import KilnSubmitter
import Logging
import ServiceLifecycle

/// `kiln demo`: Kiln's main job end to end, on the built-in simulator (or the real API).
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Summarize sample documents end to end: enqueue, submit in background mode, poll, finalize, report.",
        discussion: """
            Starts the simulator on a free loopback port (provider time runs --time-scale times faster), \
            uses a fresh SQLite file, enqueues --runs summaries (a few fail, end incomplete, time out or are \
            cancelled on purpose), works them to the end and prints a report. With --provider openai it \
            uses the real API (OPENAI_API_KEY) and only plain documents.
            """)

    enum ProviderChoice: String, ExpressibleByArgument { case simulator, openai }

    @Option(help: "Number of runs.") var runs = 50
    @Option(help: "simulator (default) or openai.") var provider = ProviderChoice.simulator
    @Option(help: "Provider seconds per real second on the simulator (Kiln's schedule is scaled alike).") var timeScale = 60.0
    @Option(help: "SQLite file to use (default: a fresh one in a temporary folder).") var database: String?
    @Option(help: "Give up after this many real seconds.") var timeout = 300.0
    @Option(help: "Log level of the workers.") var logLevel = "warning"

    func run() async throws {
        guard (1...10_000).contains(runs) else { throw KilnError(.invalidArgument, "--runs must be in 1...10000, got \(runs)") }
        guard timeScale >= 1, timeScale <= 1000 else {
            throw KilnError(.invalidArgument, "--time-scale must be in 1...1000, got \(timeScale)")
        }
        LogSetup.bootstrap(.text)
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw KilnError(.invalidArgument, "--log-level: unknown level \"\(logLevel.prefix(20))\"")
        }
        let logger = { () -> Logger in
            var logger = Logger(label: "kiln.demo")
            logger.logLevel = level
            return logger
        }()
        let path = try database ?? Self.freshDatabasePath()
        let store = try StoreLocation.open(path)
        try await store.migrate()

        switch provider {
        case .simulator:
            var simulated = SimulatorConfiguration()
            simulated.timeScale = timeScale
            simulated.queueWaitMin = 0
            simulated.queueWaitMax = 10
            simulated.generationMedian = 180
            simulated.generationSigma = 0.6
            let key = "sk-kiln-demo-\(UInt64.random(in: 1...UInt64.max))"
            simulated.apiKey = key
            simulated.seed = 42
            let simulator = Simulator(configuration: simulated)
            let scale = timeScale
            let plan = DemoPlan(runs: runs, directives: true)
            try await simulator.withRunning { base in
                var configuration = try DemoFeatures.adding(to: KilnConfiguration())
                configuration.provider.baseURL = base
                configuration.poller = Self.scaled(configuration.poller, by: scale)
                configuration.submitter.maxRequestsPerSecond = 500
                let runner = DemoRunner(
                    store: store, configuration: configuration, apiKey: APIKey(key), logger: logger, plan: plan,
                    timeout: timeout, finishTime: { simulator.finishTime(ofResponse: $0.rawValue) })
                Console.line(
                    "Kiln demo: \(plan.runs) runs of three features (document_summary, support_reply, product_card) "
                        + "and one long document, on the built-in simulator (provider time ×\(Int(scale)))")
                Console.line("database: \(path)")
                let report = try await runner.run()
                report.print(scale: scale)
            }
        case .openai:
            let configuration = try DemoFeatures.adding(to: try GlobalOptions(database: path, config: nil).loadConfiguration())
            let key = try WorkerSetup.apiKey(configuration: configuration, environment: ProcessInfo.processInfo.environment)
            let plan = DemoPlan(runs: runs, directives: false)
            let runner = DemoRunner(
                store: store, configuration: configuration, apiKey: key, logger: logger, plan: plan, timeout: timeout,
                finishTime: { _ in nil })
            Console.line("Kiln demo: \(plan.runs) runs of three features and one long document on \(configuration.provider.baseURL)")
            Console.line("database: \(path)")
            try await runner.run().print(scale: 1)
        }
    }

    static func freshDatabasePath() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-demo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("kiln.sqlite").path
    }

    /// Kiln's schedule in the simulator's time: every duration divided by the scale.
    static func scaled(_ poller: PollerSettings, by scale: Double) -> PollerSettings {
        var scaled = poller
        scaled.initialDelaySeconds /= scale
        scaled.minIntervalSeconds /= scale
        scaled.maxIntervalSeconds /= scale
        scaled.leaseSeconds = max(5, poller.leaseSeconds / scale)
        return scaled
    }
}

extension GlobalOptions {
    init(database: String?, config: String?) {
        self.init()
        self.database = database
        self.config = config
    }
}
