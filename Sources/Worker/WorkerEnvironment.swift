import Foundation
import KilnDomain
import Logging
import Synchronization

/// What the submitter and poller of one process share: the store, the provider, the
/// configuration, one request budget and one view of learned run times.
public struct WorkerEnvironment: Sendable {
    public let store: any RunStore
    public let client: any ResponsesClient
    public let configuration: KilnConfiguration
    /// `host:pid`, written as `lease_owner` and event actor.
    public let owner: String
    public let logger: Logger
    public let budget: RequestBudget
    public let estimates: RunTimeEstimates
    public let clock: WorkerClock
    /// When this process last pruned old runs (`worker.retention_days`).
    public let pruning = Throttle()
    /// The `prompt_cache_key` of each send (``PromptCacheKeys``).
    public let promptCacheKeys = PromptCacheKeys()
    /// The batch lane, when the store and the provider client both carry it.
    public let batchLane: BatchLane?

    /// What the batch lane needs: batches in the database, the Files and Batch endpoints.
    public struct BatchLane: Sendable {
        public let store: any BatchStore
        public let client: any BatchClient
    }

    public init(
        store: any RunStore, client: any ResponsesClient,
        configuration: KilnConfiguration, owner: String, logger: Logger, clock: WorkerClock = .system
    ) {
        self.store = store
        self.client = client
        self.configuration = configuration
        self.owner = owner
        self.logger = logger
        self.clock = clock
        if let batchStore = store as? any BatchStore, let batchClient = client as? any BatchClient {
            batchLane = BatchLane(store: batchStore, client: batchClient)
        } else {
            batchLane = nil
        }
        self.budget = RequestBudget(
            ratePerSecond: configuration.submitter.maxRequestsPerSecond,
            inputTokensPerMinute: configuration.submitter.maxInputTokensPerMinute)
        self.estimates = RunTimeEstimates(store: store, defaultModel: configuration.policy.model)
    }

    /// The features this process works: `configuration.features`.
    public var features: FeatureCatalog { configuration.features }

    /// The run's policy: the configured defaults with the run's overrides, or why they
    /// cannot be applied.
    public func policy(of run: Run) -> Result<RunPolicy, KilnError> {
        do throws(KilnError) {
            return .success(try features.policy(feature: run.feature, overrides: run.policy, defaults: configuration.policy))
        } catch {
            return .failure(error)
        }
    }

    /// Writes what the worker learned about a run, trying again while the database does not
    /// answer (``WriteRetry/worker``); false when another process moved the run first.
    public func persist(_ update: RunUpdate) async throws -> Bool {
        let saved = try await store.saveRetrying(update, logger: logger)
        if saved { Telemetry.record(update) }
        return saved
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
