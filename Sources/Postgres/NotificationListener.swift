import Foundation
import KilnDomain
import Logging
import PostgresNIO
import Synchronization

/// `LISTEN kiln_runs` on one connection, turned into wake-ups. A lost connection is
/// re-established after a pause; executors never depend on a notification arriving (they
/// also poll the table), so a gap costs latency, not correctness.
final class NotificationListener: Sendable {
    private let pool: ReplaceablePool
    private let logger: Logger
    private let state = Mutex<(task: Task<Void, Never>?, continuations: [AsyncStream<Void>.Continuation])>((nil, []))

    init(pool: ReplaceablePool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    func stream() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        state.withLock { state in
            state.continuations.append(continuation)
            if state.task == nil { state.task = Task { [self] in await self.listen() } }
        }
        return stream
    }

    func stop() {
        state.withLock { state in
            state.task?.cancel()
            for continuation in state.continuations { continuation.finish() }
            state.continuations = []
        }
    }

    private func listen() async {
        while !Task.isCancelled {
            do {
                try await pool.client.withConnection { connection in
                    try await connection.listen(on: "kiln_runs") { notifications in
                        for try await _ in notifications {
                            let continuations = state.withLock { $0.continuations }
                            for continuation in continuations { continuation.yield() }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("LISTEN connection lost; reconnecting", metadata: [LogKey.error: "\(String(describing: error).prefix(120))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
