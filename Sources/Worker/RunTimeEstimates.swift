import Foundation
import KilnDomain
import Synchronization

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
