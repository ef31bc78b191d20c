import Foundation
import Synchronization

/// Something a process does at most once per interval (pruning old runs).
public final class Throttle: Sendable {
    private let last = Mutex<Date?>(nil)

    public init() {}

    /// True, and remembered, when `interval` has passed since the last time it was true.
    public func take(at now: Date, every interval: TimeInterval) -> Bool {
        last.withLock { last in
            if let previous = last, now.timeIntervalSince(previous) < interval { return false }
            last = now
            return true
        }
    }
}
