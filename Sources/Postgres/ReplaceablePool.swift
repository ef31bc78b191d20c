import Logging
import PostgresNIO
import Synchronization

/// A `PostgresClient` connection pool that is replaced when it stops answering.
///
/// Every operation is bounded by `operationTimeout`. After a server restart a
/// `PostgresClient` was once seen to stop handing out connections for good (only its
/// `LISTEN` connection came back; every query waited); a bounded wait and a fresh pool turn
/// that into one failed operation, which the worker loop retries.
final class ReplaceablePool: Sendable {
    let operationTimeout: Duration
    private let configuration: PostgresClient.Configuration
    private let backgroundLogger: Logger
    private let logger: Logger
    private let current: Mutex<(client: PostgresClient, runTask: Task<Void, Never>)>

    init(configuration: PostgresClient.Configuration, operationTimeout: Duration, logger: Logger) {
        var background = logger
        background.logLevel = max(logger.logLevel, .error)  // pool chatter is not an operator's business
        self.configuration = configuration
        self.operationTimeout = operationTimeout
        self.backgroundLogger = background
        self.logger = logger
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        current = Mutex((client, Task { await client.run() }))
    }

    deinit { shutdown() }

    /// The pool to use now.
    var client: PostgresClient { current.withLock { $0.client } }

    func shutdown() {
        current.withLock { $0.runTask.cancel() }
    }

    /// `work`'s result within ``operationTimeout``; past it, the pool `work` used is replaced
    /// and nil is returned.
    func bounded<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T? {
        let used = client
        guard let value = try await Self.within(operationTimeout, work) else {
            replace(used)
            return nil
        }
        return value
    }

    /// Replaces `stale` with a new pool (unless another caller already did) and closes it,
    /// which fails whatever still waits on it.
    private func replace(_ stale: PostgresClient) {
        let closing = current.withLock { current -> Task<Void, Never>? in
            guard current.client === stale else { return nil }
            let fresh = PostgresClient(configuration: configuration, backgroundLogger: backgroundLogger)
            let old = current.runTask
            current = (fresh, Task { await fresh.run() })
            return old
        }
        if let closing {
            logger.warning("PostgreSQL did not answer in time; replaced the connection pool")
            closing.cancel()
        }
    }

    /// `work`'s result, or nil when `timeout` passes first. A structured race would wait for
    /// a timed-out `work` to end, and work stuck on a wedged connection may never end; so
    /// `work` runs in its own task, is cancelled on timeout, and is not waited for.
    static func within<T: Sendable>(_ timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T? {
        let worker = Task { try await work() }
        let first = FirstOnce()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T?, any Error>) in
                let timer = Task {
                    do {
                        try await Task.sleep(for: timeout)
                    } catch {
                        return  // cancelled: the work finished first
                    }
                    if first.claim() {
                        worker.cancel()
                        continuation.resume(returning: nil)
                    }
                }
                Task {
                    let result = await worker.result
                    if first.claim() { continuation.resume(with: result.map { Optional($0) }) }
                    timer.cancel()
                }
            }
        } onCancel: {
            worker.cancel()
        }
    }
}

/// True for the first caller only.
private final class FirstOnce: Sendable {
    private let taken = Mutex(false)
    func claim() -> Bool {
        taken.withLock { taken in
            defer { taken = true }
            return !taken
        }
    }
}
