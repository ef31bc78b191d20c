import Foundation
import KilnDomain
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
    /// Writes one guarded update even when the calling task is cancelled (a shutdown past
    /// its grace period): giving a lease back must not be lost to the cancellation that
    /// asked for it. A database that does not answer is tried again for a few seconds
    /// (``WriteRetry/shutdown``).
    public func saveDespiteCancellation(_ update: RunUpdate, logger: Logger) async throws -> Bool {
        try await Task { try await self.saveRetrying(update, retry: .shutdown, logger: logger) }.value
    }

    /// Writes one guarded update, trying again while the database does not answer (see
    /// ``WriteRetry``); false when another process moved the run first.
    ///
    /// Safe to repeat: a failed attempt may still have committed (a connection lost after
    /// the commit left), so before each retry the run is read back, and an update already
    /// in place counts as written instead of being applied (and audited) twice. A retry the
    /// guard refuses is read back too: the failed attempt may have committed in between.
    public func saveRetrying(_ update: RunUpdate, retry: WriteRetry = .worker, logger: Logger) async throws -> Bool {
        let started = ContinuousClock.now
        var pause = retry.firstPause
        var failures = 0
        while true {
            do {
                if failures > 0, let current = try await run(update.run.id, tenant: nil), update.isApplied(in: current) {
                    return true
                }
                var saved = try await save(update)
                if failures > 0, !saved, let current = try await run(update.run.id, tenant: nil), update.isApplied(in: current) {
                    // The failed attempt committed after the read above (an abandoned PostgreSQL
                    // query that ran late): it was this write, so the guard refusing it is no lost lease.
                    saved = true
                }
                if failures > 0 {
                    logger.info(
                        "write went through after the database answered again",
                        metadata: [
                            LogKey.runID: "\(update.run.id)", LogKey.failedAttempts: "\(failures)",
                        ])
                }
                return saved
            } catch let error as KilnError where error.code == .databaseUnavailable {
                failures += 1
                guard started.duration(to: .now) + pause < retry.giveUpAfter else { throw error }
                logger.warning(
                    "write failed; retrying when the database answers",
                    metadata: [
                        LogKey.runID: "\(update.run.id)", LogKey.error: "\(error)", LogKey.retryInSeconds: "\(pause / .seconds(1))",
                    ])
                try await Task.sleep(for: pause)
                pause = min(pause * 2, retry.maxPause)
            }
        }
    }
}
