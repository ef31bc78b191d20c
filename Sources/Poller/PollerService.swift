import Foundation
import KilnDomain
import KilnWorker
import ServiceLifecycle

/// The poller as a long-running `Service` (see ``SubmitterService``).
public struct PollerService: Service {
    public let poller: Poller
    public let wakeup: Wakeup
    /// Signalled when long documents' parents released children (or started a level), so a
    /// submitter in the same process sends them at once.
    public let onReleased: Wakeup?

    public init(poller: Poller, wakeup: Wakeup = Wakeup(), onReleased: Wakeup? = nil) {
        self.poller = poller
        self.wakeup = wakeup
        self.onReleased = onReleased
    }

    public func run() async throws {
        let environment = poller.environment
        await WorkerLoop.run(
            name: "poller", store: environment.store, maxIdleSeconds: environment.configuration.worker.maxIdleSeconds,
            wakeup: wakeup, logger: environment.logger
        ) { now in
            let result = try await poller.runOnce(now: now)
            if result.childrenReleased > 0 { onReleased?.signal() }
            if result.claimed > 0 { environment.logger.debug("\(result.summary)") }
            return WorkerLoop.PassReport(claimed: result.claimed, batchSize: environment.configuration.poller.batchSize)
        }
    }
}
