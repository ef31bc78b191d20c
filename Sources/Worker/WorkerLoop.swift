import Foundation
import KilnDomain
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
                logger.error(
                    "\(name) pass failed; retrying", metadata: [LogKey.error: "\(error)", LogKey.retryInSeconds: "\(sleepSeconds)"])
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
