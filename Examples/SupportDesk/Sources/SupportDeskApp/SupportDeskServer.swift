import Hummingbird
import KilnDomain
import KilnPoller
import KilnProvider
import KilnSQLite
import KilnSubmitter
import KilnWorker
import Logging
import ServiceLifecycle

/// The whole app in one process: the HTTP server and Kiln's submitter and poller, in one
/// `ServiceGroup` over one SQLite store.
///
/// Services start in order and stop in reverse, so on shutdown the HTTP server stops taking
/// requests first, then the poller and the submitter finish or release what they hold (within
/// `kiln.worker.shutdown_grace_seconds`). A run enqueued by a route wakes the submitter through
/// the store's change stream, without waiting out its idle sleep.
public struct SupportDeskServer: Sendable {
    /// The store the routes and the worker share.
    public let store: SQLiteRunStore
    /// The app's door to Kiln, with ``SupportReply`` registered.
    public let runs: RunService
    private let group: ServiceGroup
    private let client: HTTPResponsesClient
    private let logger: Logger

    /// Opens and migrates the store and assembles the services; ``run()`` starts them.
    /// `onServerRunning` gets the port the HTTP server bound.
    public static func make(
        configuration: SupportDeskConfiguration, apiKey: APIKey, directory: UserDirectory, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> SupportDeskServer {
        var kiln = configuration.kiln
        kiln.features = try kiln.features.adding([SupportReply(company: configuration.company)])
        try kiln.validate()
        let store = try SQLiteRunStore(path: configuration.databasePath)
        try await store.migrate()
        let runs = RunService(
            store: store, features: kiln.features, policyDefaults: kiln.policy, limits: kiln.limits, actor: "supportdesk")

        let router = Router(context: DeskRequestContext.self)
        router.add(middleware: KilnErrorMiddleware())
        router.add(middleware: BearerAuthenticator(directory: directory))
        ReplyDraftRoutes(runs: runs).add(to: router)
        let port = configuration.port
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.host, port: port), serverName: "supportdesk"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) }, logger: logger)

        let client = HTTPResponsesClient(settings: kiln.provider, apiKey: apiKey, logger: logger)
        let environment = WorkerEnvironment(store: store, client: client, configuration: kiln, owner: configuration.owner, logger: logger)
        let pollerWakeup = Wakeup()
        let submitter = SubmitterService(submitter: Submitter(environment: environment), onAccepted: pollerWakeup)
        var services: [any Service] = []
        if let changes = store.changes() {
            services.append(ChangeForwarder(changes: changes, wakeups: [submitter.wakeup, pollerWakeup]))
        }
        services += [submitter, PollerService(poller: Poller(environment: environment), wakeup: pollerWakeup), application]

        var groupConfiguration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: configuration.stopsOnSignals ? [.sigterm, .sigint] : [],
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .milliseconds(Int(kiln.worker.shutdownGraceSeconds * 1000))
        return SupportDeskServer(
            store: store, runs: runs, group: ServiceGroup(configuration: groupConfiguration), client: client, logger: logger)
    }

    /// Runs until a signal (when ``SupportDeskConfiguration/stopsOnSignals``) or ``shutdown()``.
    public func run() async throws {
        logger.info("supportdesk started")
        do {
            try await group.run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
        logger.info("supportdesk stopped")
    }

    /// Starts the graceful shutdown of a running server; ``run()`` returns when it is done.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }
}
