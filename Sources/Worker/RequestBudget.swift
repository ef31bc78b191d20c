import Foundation

/// A shared budget of provider calls: a token bucket of `ratePerSecond`, and a pause for
/// everyone when the provider answers 429, so one rate limit slows the whole process down
/// instead of every run hammering on its own.
public actor RequestBudget {
    private let ratePerSecond: Double
    private let burst: Double
    private var tokens: Double
    private var refilledAt: ContinuousClock.Instant
    private var pausedUntil: ContinuousClock.Instant

    public init(ratePerSecond: Double, burst: Double? = nil) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst ?? max(1, ratePerSecond)
        tokens = self.burst
        refilledAt = .now
        pausedUntil = .now
    }

    /// Waits (suspending, never blocking a thread) until a call may be made.
    public func acquire() async throws {
        while true {
            let now = ContinuousClock.now
            if now < pausedUntil {
                try await Task.sleep(until: pausedUntil, clock: .continuous)
                continue
            }
            let elapsed = refilledAt.duration(to: now)
            tokens = min(burst, tokens + elapsed / .seconds(1) * ratePerSecond)
            refilledAt = now
            if tokens >= 1 {
                tokens -= 1
                return
            }
            try await Task.sleep(for: .milliseconds(Int(((1 - tokens) / ratePerSecond) * 1000) + 1))
        }
    }

    /// Everyone waits `seconds` (the provider's 429 wait hint).
    public func pause(seconds: Double) {
        let until = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
        if until > pausedUntil { pausedUntil = until }
    }
}
