import Foundation
import Logging
import Synchronization

/// What the submitter and poller of one process share: the store, the provider, the
/// configuration, one request budget and one view of learned run times.
public struct WorkerEnvironment: Sendable {
    public let store: any RunStore
    public let client: any ResponsesClient
    public let features: FeatureCatalog
    public let configuration: KilnConfiguration
    /// `host:pid`, written as `lease_owner` and event actor.
    public let owner: String
    public let logger: Logger
    public let budget: RequestBudget
    public let estimates: RunTimeEstimates

    public init(
        store: any RunStore, client: any ResponsesClient, features: FeatureCatalog = .builtIn,
        configuration: KilnConfiguration, owner: String, logger: Logger
    ) {
        self.store = store
        self.client = client
        self.features = features
        self.configuration = configuration
        self.owner = owner
        self.logger = logger
        self.budget = RequestBudget(ratePerSecond: configuration.submitter.maxRequestsPerSecond)
        self.estimates = RunTimeEstimates(store: store, defaultModel: configuration.policy.model)
    }

    /// The run's policy: the configured defaults with the run's overrides.
    public func policy(of run: Run) throws(KilnError) -> RunPolicy {
        try configuration.policy.applying(run.policy)
    }

    /// Writes what the worker learned about a run, trying again while the database does not
    /// answer (``WriteRetry/worker``); false when another process moved the run first.
    public func persist(_ update: RunUpdate) async throws -> Bool {
        try await store.saveRetrying(update, logger: logger)
    }

    /// A logger stamped with the run's ids.
    public func logger(for run: Run) -> Logger {
        var logger = logger
        logger[metadataKey: LogKey.runID] = "\(run.id)"
        logger[metadataKey: LogKey.tenantID] = "\(run.tenantID)"
        logger[metadataKey: LogKey.feature] = "\(run.feature)"
        logger[metadataKey: LogKey.attempt] = "\(run.attempt)"
        if let response = run.responseID { logger[metadataKey: LogKey.responseID] = "\(response)" }
        return logger
    }
}

/// Every log metadata key Kiln writes, in one place.
public enum LogKey {
    public static let runID = "run_id"
    public static let responseID = "response_id"
    public static let tenantID = "tenant_id"
    public static let feature = "feature"
    public static let attempt = "attempt"
    public static let error = "error"
}

/// Learned run times per feature and model, refreshed from the store at most once a minute
/// (every 2 s until enough runs have completed).
public final class RunTimeEstimates: Sendable {
    private let store: any RunStore
    private let defaultModel: String
    private let cache = Mutex<[String: (estimate: RunTimeEstimate?, loadedAt: ContinuousClock.Instant)]>([:])

    public init(store: any RunStore, defaultModel: String) {
        self.store = store
        self.defaultModel = defaultModel
    }

    public func estimate(feature: String, model: String) async -> RunTimeEstimate? {
        let key = feature + "\u{1}" + model
        // Refresh once a minute; while nothing is learned yet, every few seconds.
        if let cached = cache.withLock({ $0[key] }),
            cached.loadedAt.duration(to: .now) < (cached.estimate == nil ? .seconds(2) : .seconds(60))
        {
            return cached.estimate
        }
        let durations = (try? await store.recentRunDurations(feature: feature, model: model, defaultModel: defaultModel, limit: 500)) ?? []
        let estimate = RunTimeEstimate(durations: durations)
        cache.withLock { $0[key] = (estimate, .now) }
        return estimate
    }
}

/// Keeps the leases of `ids` alive while `body` runs, renewing every third of the lease; a
/// renewal the database did not answer is tried again after a second (or sooner, for short
/// leases), not a third of a lease later.
public func withLeaseRenewal<T: Sendable>(
    store: any RunStore, ids: [RunID], owner: String, leaseSeconds: Double, logger: Logger,
    _ body: @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            let interval = leaseSeconds / 3
            var pause = interval
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(pause * 1000)))
                if Task.isCancelled { break }
                do {
                    _ = try await store.renewLeases(ids, owner: owner, until: Date().addingTimeInterval(leaseSeconds))
                    pause = interval
                } catch {
                    pause = min(interval, 1)
                    logger.warning("could not renew leases; retrying", metadata: [LogKey.error: "\(error)", "retry_in_seconds": "\(pause)"])
                }
            }
            return nil
        }
        let result = try await body()
        group.cancelAll()
        return result
    }
}
