import Foundation

/// What an erasure did (``RunStore/erase(tenant:subject:actor:now:)``).
public struct ErasureOutcome: Sendable, Hashable, Encodable {
    /// Finished runs whose input and output are gone (tombstones remain).
    public var erased: Int
    /// Runs still queued or in flight (or children of a document still being summarized), left
    /// alone: cancel them, or erase again once they have ended.
    public var stillRunning: Int

    public init(erased: Int, stillRunning: Int) {
        self.erased = erased
        self.stillRunning = stillRunning
    }

    enum CodingKeys: String, CodingKey {
        case erased
        case stillRunning = "still_running"
    }
}

/// A response to delete at the provider: a finished run's, after finalization
/// (`provider.delete_after_finalize`) or its erasure.
public struct ProviderDeletion: Sendable, Hashable {
    public var runID: RunID
    public var responseID: ResponseID
    /// Attempts that failed before this one.
    public var attempts: Int

    public init(runID: RunID, responseID: ResponseID, attempts: Int) {
        self.runID = runID
        self.responseID = responseID
        self.attempts = attempts
    }

    /// When to try again after this attempt failed, or nil to give up (after 12 attempts,
    /// about a day and a half of back-off from 30 s, doubling to an hour).
    public func retryAt(after now: Date) -> Date? {
        guard attempts + 1 < 12 else { return nil }
        return now.addingTimeInterval(min(3_600, 30 * pow(2, Double(attempts))))
    }
}
