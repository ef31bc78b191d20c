import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The daemon loop shared by the submitter and poller services: run a pass, then sleep
/// until the next due time (not a fixed tick), waking early on ``Wakeup/signal()``.
///
/// On graceful shutdown (SIGTERM/SIGINT) it stops claiming; the pass in progress finishes
/// its calls (runs not yet started are released) and the loop returns.
public enum WorkerLoop {
    /// What a pass reports to the loop.
    public struct PassReport: Sendable {
        public var claimed: Int
        public var batchSize: Int
        public init(claimed: Int, batchSize: Int) {
            self.claimed = claimed
            self.batchSize = batchSize
        }
    }

    public static func run(
        name: String, store: any RunStore, maxIdleSeconds: Double, wakeup: Wakeup, logger: Logger,
        pass: @Sendable (Date) async throws -> PassReport
    ) async {
        var failures = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            var sleepSeconds: Double
            do {
                let report = try await pass(Date())
                failures = 0
                if report.claimed >= report.batchSize { continue }  // more is due: go on at once
                let due = try await store.nextDueDate()
                sleepSeconds = due.map { $0.timeIntervalSinceNow } ?? maxIdleSeconds
            } catch {
                failures += 1
                sleepSeconds = min(maxIdleSeconds, pow(2, Double(min(failures, 6))) * 0.5)
                logger.error("\(name) pass failed; retrying", metadata: [LogKey.error: "\(error)", "retry_in_seconds": "\(sleepSeconds)"])
            }
            sleepSeconds = min(maxIdleSeconds, max(0.02, sleepSeconds))
            await withGracefulShutdownHandler {
                await wakeup.wait(seconds: sleepSeconds)
            } onGracefulShutdown: {
                wakeup.signal()
            }
        }
        logger.debug("\(name) stopped")
    }
}

/// A wake-up call between tasks: `wait` returns on `signal()` or when its time is up.
///
/// A signal sent while nobody waits is kept for the next wait. (An `AsyncStream` cannot do
/// this job: cancelling a task that awaits its `next()` finishes the stream for good, and
/// every later wait would return at once.)
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return []
            }
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits up to `seconds`, or until signalled (a signal sent before the wait counts).
    public func wait(seconds: Double) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal() }
            group.addTask { try? await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
