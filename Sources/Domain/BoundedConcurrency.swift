/// Runs `transform` on every item with at most `limit` running at once, and returns the
/// results in completion order. The submitter and poller send their batches this way:
/// bounded task groups, no thread blocked.
public func forEachConcurrently<Item: Sendable, Result: Sendable>(
    _ items: [Item], limit: Int, _ transform: @escaping @Sendable (Item) async throws -> Result
) async throws -> [Result] {
    try await withThrowingTaskGroup(of: Result.self) { group in
        var results: [Result] = []
        results.reserveCapacity(items.count)
        var running = 0
        for item in items {
            if running >= limit, let result = try await group.next() {
                results.append(result)
                running -= 1
            }
            group.addTask { try await transform(item) }
            running += 1
        }
        for try await result in group { results.append(result) }
        return results
    }
}
