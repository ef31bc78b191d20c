import ArgumentParser
import Foundation
import KilnDomain
import KilnPoller
import KilnProvider
import KilnSubmitter
import KilnWebhooks
import KilnWorker
import Logging
import ServiceLifecycle

/// Options of the commands that execute runs (`submit`, `poll`, `work`).
struct WorkerOptions: ParsableArguments {
    @Flag(help: "Do everything due now, print a one-line summary and exit (for cron).") var once = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error (default $KILN_LOG_LEVEL, else info).")
    var logLevel: String?

    /// Logging to standard error at the chosen level; set up once per process.
    func logger() throws -> Logger {
        let name = logLevel ?? ProcessInfo.processInfo.environment["KILN_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: name) else {
            throw KilnError(
                .invalidArgument, "--log-level: unknown level \"\(name.prefix(20))\"; use trace, debug, info, notice, warning or error")
        }
        LogSetup.bootstrapOnce
        var logger = Logger(label: "kiln")
        logger.logLevel = level
        return logger
    }
}

enum LogSetup {
    static let bootstrapOnce: Void = LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
}

/// Everything `submit`, `poll`, `work` and `serve` need, from the configuration and the environment.
struct WorkerSetup {
    let environment: WorkerEnvironment
    let client: HTTPResponsesClient
    /// The webhook receiver and where it listens, when this process serves HTTP.
    let listener: (receiver: WebhookReceiver, address: (host: String, port: Int))?

    static func make(
        global: GlobalOptions, logger: Logger, listen: String? = nil, listensByConfiguration: Bool = false,
        requireListener: Bool = false
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
        if address != nil, verifier == nil {
            throw KilnError(
                .invalidConfiguration,
                "--listen receives webhooks and needs their secret: set OPENAI_WEBHOOK_SECRET or webhooks.secret_file")
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
        var listener: (WebhookReceiver, (host: String, port: Int))?
        if let verifier, let address { listener = (WebhookReceiver(verifier: verifier, store: store, logger: logger), address) }
        return WorkerSetup(environment: environment, client: client, listener: listener)
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
        if once, listener != nil { throw KilnError(.invalidArgument, "--listen serves webhooks and does not go with --once") }
        do {
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
        if let listener { services.append(WebhookSetup.application(receiver: listener.receiver, listen: listener.address, logger: logger)) }
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
        let logger = try worker.logger()
        try await WorkerSetup.make(global: global, logger: logger).run(submit: true, poll: false, once: worker.once, logger: logger)
    }
}

struct PollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poll", abstract: "Resume in-flight runs and finalize them (daemon, or --once for cron).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var worker: WorkerOptions

    func run() async throws {
        let logger = try worker.logger()
        try await WorkerSetup.make(global: global, logger: logger).run(submit: false, poll: true, once: worker.once, logger: logger)
    }
}

struct WorkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "work", abstract: "Submit and poll in one process (daemon, or --once for cron).")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var worker: WorkerOptions
    @Option(help: "Also receive OpenAI webhooks at POST /webhooks/openai on HOST:PORT (default: http.listen).") var listen: String?

    func run() async throws {
        let logger = try worker.logger()
        try await WorkerSetup.make(global: global, logger: logger, listen: listen, listensByConfiguration: !worker.once).run(
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
        let logger = try options.logger()
        try await WorkerSetup.make(global: global, logger: logger, listen: listen, listensByConfiguration: true, requireListener: true).run(
            submit: false, poll: false, once: false, logger: logger)
    }
}
