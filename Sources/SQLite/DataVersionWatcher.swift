import Foundation
import GRDB
import Synchronization

/// Notices what other connections commit to a SQLite file — another process's insert or
/// cancel, another worker, a cron pass — by reading `PRAGMA data_version` every `interval`
/// on the store's own writing connection, where the value changes only when *another*
/// connection commits: the worker's own claims and saves do not wake it. Inserts and cancels
/// made through the same store instance (an application and its workers in one process) are
/// counted by the store itself (``LocalWrites``). The pragma is one integer from shared
/// memory, no table is read while nothing changes, and no lock is taken.
///
/// `next()` returns when something changed, nil when cancelled; it runs in the caller's task
/// (``SQLiteRunStore/changes()`` is an `AsyncStream(unfolding:)` over it), so it ends with
/// whatever consumes it.
final class DataVersionWatcher: Sendable {
    private let pool: DatabasePool
    private let interval: Duration
    private let localWrites: LocalWrites
    private let seen: Mutex<(version: Int?, local: Int)>

    init(pool: DatabasePool, interval: Duration, localWrites: LocalWrites) {
        self.pool = pool
        self.interval = interval
        self.localWrites = localWrites
        seen = Mutex((nil, localWrites.count))
    }

    /// Waits for the next change; nil when the task is cancelled.
    func next() async -> Void? {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return nil
            }
            let local = localWrites.count
            // A read that fails (the database busy past its timeout, say) is simply tried again.
            guard let version = try? await pool.writeWithoutTransaction({ db in try Int.fetchOne(db, sql: "PRAGMA data_version") })
            else { continue }
            let changed = seen.withLock { seen -> Bool in
                defer { seen = (version, local) }
                guard let previous = seen.version else { return local != seen.local }
                return previous != version || local != seen.local
            }
            if changed { return () }
        }
        return nil
    }
}

/// How many inserts and cancel requests this store instance has written: the changes an
/// application makes through the same instance its workers use, which `data_version` on
/// that instance's connection does not show.
final class LocalWrites: Sendable {
    private let counter = Mutex(0)

    var count: Int { counter.withLock { $0 } }

    func increment() {
        counter.withLock { $0 += 1 }
    }
}
