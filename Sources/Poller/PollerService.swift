import Foundation
import KilnDomain
import KilnWorker
import ServiceLifecycle

/// The poller as a long-running `Service` (see ``SubmitterService``).
public struct PollerService: Service {
    public let poller: Poller
    public let wakeup: Wakeup

    public init(poller: Poller, wakeup: Wakeup = Wakeup()) {
        self.poller = poller
        self.wakeup = wakeup
    }

    public func run() async throws {
        let environment = poller.environment
        await WorkerLoop.run(
            name: "poller", store: environment.store, maxIdleSeconds: environment.configuration.worker.maxIdleSeconds,
            wakeup: wakeup, logger: environment.logger
        ) { now in
            let result = try await poller.runOnce(now: now)
            if result.claimed > 0 { environment.logger.debug("\(result.summary)") }
            return WorkerLoop.PassReport(claimed: result.claimed, batchSize: environment.configuration.poller.batchSize)
        }
    }
}
