import ArgumentParser
import Foundation
import KilnDomain
import KilnOperator
import KilnPoller
import KilnProvider
import KilnSubmitter
import KilnWebhooks
import KilnWorker
import Logging
import ServiceLifecycle
import Synchronization

/// Options of the commands that execute runs (`submit`, `poll`, `work`).
struct WorkerOptions: ParsableArguments {
    @Flag(help: "Do everything due now, print a one-line summary and exit (for cron).") var once = false
    @Option(help: "With --once: write the pass's metrics to this file (Prometheus text, for node-exporter's textfile collector).")
    var metricsFile: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error (default $KILN_LOG_LEVEL, else info).")
    var logLevel: String?

    /// Logging to standard error at the chosen level (`--log-level`, else `log.level`, whose
    /// variable is `KILN_LOG_LEVEL`) and format (`log.format`); set up once per process.
    func logger(_ global: GlobalOptions) throws -> Logger {
        let settings = try global.loadConfiguration().log
        let name = logLevel ?? settings.level
        guard let level = Logger.Level(rawValue: name) else {
            throw KilnError(
                .invalidArgument, "--log-level: unknown level \"\(name.prefix(20))\"; use trace, debug, info, notice, warning or error")
        }
        LogSetup.bootstrap(settings.format)
        var logger = Logger(label: "kiln")
        logger.logLevel = level
        return logger
    }
}

enum LogSetup {
    private static let done = Mutex(false)

    static func bootstrap(_ format: LogSettings.Format) {
        done.withLock { done in
            guard !done else { return }
            done = true
            switch format {
            case .text: LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            case .json: LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
            }
        }
    }
}

/// Everything `submit`, `poll`, `work` and `serve` need, from the configuration and the environment.
struct WorkerSetup {
    let environment: WorkerEnvironment
    let client: HTTPResponsesClient
    /// What this process serves over HTTP, and where.
    let listener: Listener?
    /// Where a `--once` pass writes its metrics (a node-exporter textfile).
    let metricsFile: String?

    struct Listener {
        let address: (host: String, port: Int)
        /// Nil without a webhook secret: the listener serves `/metrics` and the dashboard only.
        let webhooks: WebhookReceiver?
        let operatorServer: OperatorServer
    }

    static func make(
        global: GlobalOptions, logger: Logger, listen: String? = nil, listensByConfiguration: Bool = false,
        requireListener: Bool = false, metricsFile: String? = nil
    ) async throws
        -> WorkerSetup
    {
        var configuration = try global.loadConfiguration()
        let environmentVariables = ProcessInfo.processInfo.environment
        let verifier = try WebhookSetup.verifier(configuration: configuration, environment: environmentVariables)
        // With a secret, webhooks tell every executor when a response ends (whichever receives
        // them): polling becomes the safety net.
        configuration.poller.webhooksEnabled = verifier != nil
        // `http.listen` is for the daemons that serve (`work`, `serve`), never a cron pass or a
        // `submit`/`poll` daemon sharing the configuration.
        let listenText = listen ?? (listensByConfiguration ? configuration.http.listen : nil)
        if requireListener, listenText == nil {
            throw KilnError(.invalidArgument, "serve needs an address: --listen HOST:PORT or http.listen")
        }
        var address: (host: String, port: Int)?
        if let listenText { address = try WebhookSetup.address(listenText, option: "--listen") }
        let access = try address.map { address throws in
            try OperatorAccess.forListener(
                host: address.host,
                credentials: try OperatorSetup.credentials(configuration: configuration, environment: environmentVariables),
                readOnly: configuration.http.readOnly)
        }
        if let base = environmentVariables["OPENAI_BASE_URL"], !base.isEmpty { configuration.provider.baseURL = base }
        guard configuration.provider.baseURL.hasPrefix("http://") || configuration.provider.baseURL.hasPrefix("https://") else {
            throw KilnError(
                .invalidConfiguration,
                "provider.base_url must start with http:// or https://, got \"\(configuration.provider.baseURL.prefix(80))\"")
        }
        // `serve` only records deliveries: it makes no provider call and needs no API key.
        let key = requireListener ? APIKey("unused-by-serve") : try apiKey(configuration: configuration, environment: environmentVariables)
        let store = try await global.openStore()
        let client = HTTPResponsesClient(settings: configuration.provider, apiKey: key, logger: logger)
        let environment = WorkerEnvironment(
            store: store, client: client, configuration: configuration, owner: GlobalOptions.processIdentity, logger: logger)
        var listener: Listener?
        if let address, let access {
            if verifier == nil {
                logger.notice("no webhook secret: the listener serves /metrics and the dashboard, not /webhooks/openai")
            }
            listener = Listener(
                address: address, webhooks: verifier.map { WebhookReceiver(verifier: $0, store: store, logger: logger) },
                operatorServer: OperatorServer(
                    store: store, configuration: configuration, access: access,
                    metrics: MetricsExporter(store: store, registry: OperatorSetup.registry), logger: logger))
        }
        if listener != nil || metricsFile != nil { OperatorSetup.bootstrapMetrics() }
        return WorkerSetup(environment: environment, client: client, listener: listener, metricsFile: metricsFile)
    }

    /// The key from `OPENAI_API_KEY`, or from the file `provider.api_key_file` names.
    static func apiKey(configuration: KilnConfiguration, environment: [String: String]) throws -> APIKey {
        if let path = configuration.provider.apiKeyFile {
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw KilnError(.invalidConfiguration, "provider.api_key_file: cannot read \(path)")
            }
            let key = APIKey(text)
            guard !key.isEmpty else { throw KilnError(.invalidConfiguration, "provider.api_key_file: \(path) is empty") }
            return key
        }
        guard let text = environment["OPENAI_API_KEY"], !APIKey(text).isEmpty else {
            throw KilnError(.invalidConfiguration, "no API key: set OPENAI_API_KEY or provider.api_key_file")
        }
        return APIKey(text)
    }

    /// Runs `services` until SIGTERM/SIGINT, or one round of passes with `--once`.
    func run(submit: Bool, poll: Bool, once: Bool, logger: Logger) async throws {
        do {
            if once, listener != nil { throw KilnError(.invalidArgument, "--listen serves HTTP and does not go with --once") }
            if !once, metricsFile != nil {
                throw KilnError(.invalidArgument, "--metrics-file is for --once passes; a daemon serves /metrics with --listen")
            }
            try await work(submit: submit, poll: poll, once: once, logger: logger)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func work(submit: Bool, poll: Bool, once: Bool, logger: Logger) async throws {
        let submitter = Submitter(environment: environment)
        let poller = Poller(environment: environment)
        if once {
            let started = ContinuousClock.now
            let cutoff = Date()
            var submitted = SubmitPassResult()
            var polled = PollPassResult()
            var more = true
            while more {
                more = false
                if submit {
                    let pass = try await submitter.runOnce(now: Date(), dueBy: cutoff)
                    submitted.add(pass)
                    more = more || pass.claimed > 0
                }
                if poll {
                    let pass = try await poller.runOnce(now: Date(), dueBy: cutoff)
                    polled.add(pass)
                    more = more || pass.claimed > 0
                }
            }
            let seconds = started.duration(to: .now) / .seconds(1)
            let passes = [submit ? submitted.summary : nil, poll ? polled.summary : nil].compactMap { $0 }.joined(separator: "; ")
            print(passes + "; took " + String(format: "%.3f s", seconds))
            if let metricsFile {
                try await OperatorSetup.writeMetrics(
                    MetricsExporter(store: environment.store, registry: OperatorSetup.registry, cacheSeconds: 0), to: metricsFile)
            }
            return
        }
        let pollerWakeup = Wakeup()
        // Shut down in reverse order: the workers first, then the wake-ups, the store last.
        var services: [any Service] = []
        if let store = environment.store as? any Service { services.append(store) }
        let submitService = submit ? SubmitterService(submitter: submitter, onAccepted: pollerWakeup) : nil
        // PostgreSQL LISTEN/NOTIFY wakes both at once; the table is still polled as the fallback.
        if submit || poll, let changes = environment.store.changes() {
            services.append(ChangeForwarder(changes: changes, wakeups: [submitService?.wakeup, pollerWakeup].compactMap { $0 }))
        }
        if let submitService { services.append(submitService) }
        // A long document's parent releases children: the submitter of this process sends them at once.
        if poll { services.append(PollerService(poller: poller, wakeup: pollerWakeup, onReleased: submitService?.wakeup)) }
        // Last in, first out: the listener stops taking deliveries before the workers stop.
        if let listener { services.append(WebhookSetup.application(listener, logger: logger)) }
        let grace = environment.configuration.worker.shutdownGraceSeconds
        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int(grace * 1000))
        logger.info(
            "kiln worker started", metadata: [LogKey.owner: "\(environment.owner)", LogKey.submit: "\(submit)", LogKey.poll: "\(poll)"])
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("kiln worker stopped")
    }
}

struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Send queued runs to the provider in background mode (daemon, or --once for cron).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var worker: WorkerOptions

    func run() async throws {
        let logger = try worker.logger(global)
        try await WorkerSetup.make(global: global, logger: logger, metricsFile: worker.metricsFile).run(
            submit: true, poll: false, once: worker.once, logger: logger)
    }
}

struct PollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poll", abstract: "Resume in-flight runs and finalize them (daemon, or --once for cron).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var worker: WorkerOptions

    func run() async throws {
        let logger = try worker.logger(global)
        try await WorkerSetup.make(global: global, logger: logger, metricsFile: worker.metricsFile).run(
            submit: false, poll: true, once: worker.once, logger: logger)
    }
}

struct WorkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work", abstract: "Submit and poll in one process (daemon, or --once for cron).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var worker: WorkerOptions
    @Option(help: "Also receive OpenAI webhooks at POST /webhooks/openai on HOST:PORT (default: http.listen).") var listen: String?

    func run() async throws {
        let logger = try worker.logger(global)
        try await WorkerSetup.make(
            global: global, logger: logger, listen: listen, listensByConfiguration: !worker.once, metricsFile: worker.metricsFile
        ).run(
            submit: true, poll: true, once: worker.once, logger: logger)
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Only receive OpenAI webhooks (POST /webhooks/openai); the runs are worked elsewhere.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "HOST:PORT to listen on (default: http.listen).") var listen: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error (default $KILN_LOG_LEVEL, else info).")
    var logLevel: String?

    func run() async throws {
        var options = WorkerOptions()
        options.logLevel = logLevel
        let logger = try options.logger(global)
        try await WorkerSetup.make(global: global, logger: logger, listen: listen, listensByConfiguration: true, requireListener: true).run(
            submit: false, poll: false, once: false, logger: logger)
    }
}
