import Foundation

/// A value read from the database at most once per `ttl`: a page asked for it gets the last
/// one at once while a fresh one is read in the background (the first request waits). Counts
/// over a table of millions of runs cost a scan; River UI caches them the same way.
actor Cached<Value: Sendable> {
    private let ttl: Duration
    private let read: @Sendable () async throws -> Value
    private var value: Value?
    private var readAt: ContinuousClock.Instant?
    private var refreshing: Task<Value, any Error>?

    init(ttl: Duration, read: @escaping @Sendable () async throws -> Value) {
        self.ttl = ttl
        self.read = read
    }

    func get() async throws -> Value {
        if let value, let readAt {
            if readAt.duration(to: .now) > ttl, refreshing == nil { refreshing = startRefresh() }
            return value
        }
        let task = refreshing ?? startRefresh()
        refreshing = task
        return try await task.value
    }

    private func startRefresh() -> Task<Value, any Error> {
        let read = read
        // Isolated to this actor (which is free while the read awaits the database).
        return Task {
            defer { finished() }
            let fresh = try await read()
            store(fresh)
            return fresh
        }
    }

    private func store(_ fresh: Value) {
        value = fresh
        readAt = .now
    }

    private func finished() { refreshing = nil }
}
