import Foundation
import Logging

/// How long a worker keeps trying a write the database did not answer, and how often.
///
/// A worker that has learned something (the provider accepted a create, a response
/// finished) must not drop it because the database was busy for a moment: the run would
/// wait for the worker's own lease to run out, and an accepted create would be taken for a
/// crash and sent again. So a guarded write that fails with ``KilnError/Code/databaseUnavailable``
/// is tried again with a growing pause until the database answers, the task is cancelled,
/// or `giveUpAfter` has passed (then the error is thrown, and the lease is the fallback).
/// Any other error is thrown at once.
public struct WriteRetry: Sendable, Hashable {
    public var firstPause: Duration
    public var maxPause: Duration
    public var giveUpAfter: Duration

    public init(firstPause: Duration, maxPause: Duration, giveUpAfter: Duration) {
        self.firstPause = firstPause
        self.maxPause = maxPause
        self.giveUpAfter = giveUpAfter
    }

    /// What a working submitter or poller uses: a pause of 50 ms growing to 2 s, for up to
    /// ten minutes (past any busy timeout, disk-full alarm or database restart worth waiting
    /// out; a shutdown cancels it sooner).
    public static let worker = WriteRetry(firstPause: .milliseconds(50), maxPause: .seconds(2), giveUpAfter: .seconds(600))

    /// Giving a lease back on shutdown: a few seconds at most, since the process is leaving
    /// and an unreleased lease only expires.
    public static let shutdown = WriteRetry(firstPause: .milliseconds(50), maxPause: .seconds(1), giveUpAfter: .seconds(5))
}

extension RunStore {
    /// Writes one guarded update, trying again while the database does not answer (see
    /// ``WriteRetry``); false when another process moved the run first.
    ///
    /// Safe to repeat: a failed attempt may still have committed (a connection lost after
    /// the commit left), so before each retry the run is read back, and an update already
    /// in place counts as written instead of being applied (and audited) twice.
    public func saveRetrying(_ update: RunUpdate, retry: WriteRetry = .worker, logger: Logger) async throws -> Bool {
        let started = ContinuousClock.now
        var pause = retry.firstPause
        var failures = 0
        while true {
            do {
                if failures > 0, let current = try await run(update.run.id, tenant: nil), update.isApplied(in: current) {
                    return true
                }
                let saved = try await save(update)
                if failures > 0 {
                    logger.info("write went through after the database answered again", metadata: [
                        LogKey.runID: "\(update.run.id)", "failed_attempts": "\(failures)",
                    ])
                }
                return saved
            } catch let error as KilnError where error.code == .databaseUnavailable {
                failures += 1
                guard started.duration(to: .now) + pause < retry.giveUpAfter else { throw error }
                logger.warning("write failed; retrying when the database answers", metadata: [
                    LogKey.runID: "\(update.run.id)", LogKey.error: "\(error)", "retry_in_seconds": "\(pause)",
                ])
                try await Task.sleep(for: pause)
                pause = min(pause * 2, retry.maxPause)
            }
        }
    }
}

extension RunUpdate {
    /// Whether `current`, read back from the store, already is this update's result (an
    /// earlier attempt committed although its answer was lost): the same status, lease,
    /// attempt, poll count, response id and the same `updated_at` to the millisecond.
    public func isApplied(in current: Run) -> Bool {
        current.status == run.status && current.leaseOwner == run.leaseOwner && current.attempt == run.attempt
            && current.pollCount == run.pollCount && current.responseID == run.responseID
            && Timestamp.format(current.updatedAt) == Timestamp.format(run.updatedAt)
    }
}
