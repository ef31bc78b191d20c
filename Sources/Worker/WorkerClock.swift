import Foundation

/// Time and chance as the submitter and poller see them, passed in so that their passes can
/// be driven by a test's own clock and dice. Waiting (sleeps, lease renewal, back-off) stays
/// on the real clock.
public struct WorkerClock: Sendable {
    /// The time now.
    public var now: @Sendable () -> Date
    /// A number in `0..<1` (jitter, back-off spread).
    public var random: @Sendable () -> Double

    public init(now: @escaping @Sendable () -> Date, random: @escaping @Sendable () -> Double) {
        self.now = now
        self.random = random
    }

    /// The system clock and the system's random numbers.
    public static let system = WorkerClock(now: { Date() }, random: { Double.random(in: 0..<1) })
}
