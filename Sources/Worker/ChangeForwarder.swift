import KilnDomain
import ServiceLifecycle

/// Turns a store's change notifications (PostgreSQL `LISTEN/NOTIFY`, SQLite's
/// `PRAGMA data_version` watch) into wake-ups of the
/// submitter and poller, as a `Service` of the worker's group, so it ends with the group.
/// Workers also poll the table: a missed notification costs latency, not work.
public struct ChangeForwarder: Service {
    public let changes: AsyncStream<Void>
    public let wakeups: [Wakeup]

    public init(changes: AsyncStream<Void>, wakeups: [Wakeup]) {
        self.changes = changes
        self.wakeups = wakeups
    }

    public func run() async throws {
        for await _ in changes.cancelOnGracefulShutdown() {
            for wakeup in wakeups { wakeup.signal() }
        }
        // A stream that ends early (its store closed) must not end the group: wait for shutdown.
        try? await gracefulShutdown()
    }
}
