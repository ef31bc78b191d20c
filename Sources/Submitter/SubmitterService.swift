import Foundation
import KilnDomain
import KilnWorker
import ServiceLifecycle

/// The submitter as a long-running `Service`: it joins the application's `ServiceGroup`
/// (or `kiln submit` / `kiln work`) and stops gracefully on SIGTERM.
public struct SubmitterService: Service {
    public let submitter: Submitter
    public let wakeup: Wakeup
    /// Signalled when runs were accepted, so a poller in the same process wakes up.
    public let onAccepted: Wakeup?

    public init(submitter: Submitter, wakeup: Wakeup = Wakeup(), onAccepted: Wakeup? = nil) {
        self.submitter = submitter
        self.wakeup = wakeup
        self.onAccepted = onAccepted
    }

    public func run() async throws {
        let environment = submitter.environment
        await WorkerLoop.run(
            name: "submitter", store: environment.store, maxIdleSeconds: environment.configuration.worker.maxIdleSeconds,
            wakeup: wakeup, logger: environment.logger
        ) { now in
            let result = try await submitter.runOnce(now: now)
            if result.accepted > 0 { onAccepted?.signal() }
            if result.claimed > 0 { environment.logger.debug("\(result.summary)") }
            return WorkerLoop.PassReport(claimed: result.claimed, batchSize: environment.configuration.submitter.batchSize)
        }
    }
}
