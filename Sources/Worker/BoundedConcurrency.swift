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

/// Runs `transform` on every item like ``forEachConcurrently(_:limit:_:)``, but one item's
/// error does not cancel the others: a create already sent must be recorded, not abandoned
/// because another run's write failed. Every item runs to its end; then the first error, if
/// any, is thrown (the worker loop backs off), else the results come back in completion order.
public func forEachToTheEnd<Item: Sendable, Result: Sendable>(
    _ items: [Item], limit: Int, _ transform: @escaping @Sendable (Item) async throws -> Result
) async throws -> [Result] {
    let settled = try await forEachConcurrently(items, limit: limit) { item -> Swift.Result<Result, any Error> in
        do {
            return .success(try await transform(item))
        } catch {
            return .failure(error)
        }
    }
    return try settled.map { try $0.get() }
}
