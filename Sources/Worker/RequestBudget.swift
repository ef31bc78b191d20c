import Foundation

/// A shared budget of provider calls: a token bucket of `ratePerSecond` requests, another of
/// estimated input tokens per minute (so a document's hundreds of 25,000-token chunks do not
/// all leave at once and meet a tokens-per-minute limit), and a pause for everyone when the
/// provider answers 429, so one rate limit slows the whole process down instead of every run
/// hammering on its own.
public actor RequestBudget {
    private let ratePerSecond: Double
    private let burst: Double
    private var tokens: Double
    private let inputTokensPerSecond: Double?
    private let inputBurst: Double
    private var inputTokens: Double
    private var refilledAt: ContinuousClock.Instant
    private var pausedUntil: ContinuousClock.Instant

    public init(ratePerSecond: Double, burst: Double? = nil, inputTokensPerMinute: Double? = nil) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst ?? max(1, ratePerSecond)
        tokens = self.burst
        inputTokensPerSecond = inputTokensPerMinute.map { $0 / 60 }
        inputBurst = inputTokensPerMinute ?? 0
        inputTokens = inputBurst
        refilledAt = .now
        pausedUntil = .now
    }

    /// Waits (suspending, never blocking a thread) until a call of `inputTokens` estimated
    /// input tokens may be made. A call larger than a minute's budget waits for a full bucket.
    public func acquire(inputTokens weight: Int = 0) async throws {
        while true {
            let now = ContinuousClock.now
            if now < pausedUntil {
                try await Task.sleep(until: pausedUntil, clock: .continuous)
                continue
            }
            let elapsed = refilledAt.duration(to: now) / .seconds(1)
            tokens = min(burst, tokens + elapsed * ratePerSecond)
            if let perSecond = inputTokensPerSecond { inputTokens = min(inputBurst, inputTokens + elapsed * perSecond) }
            refilledAt = now
            let needed = min(Double(weight), inputBurst)
            let inputReady = inputTokensPerSecond == nil || inputTokens >= needed
            if tokens >= 1, inputReady {
                tokens -= 1
                if inputTokensPerSecond != nil { inputTokens -= needed }
                return
            }
            var wait = tokens >= 1 ? 0 : (1 - tokens) / ratePerSecond
            if !inputReady, let perSecond = inputTokensPerSecond { wait = max(wait, (needed - inputTokens) / perSecond) }
            try await Task.sleep(for: .milliseconds(Int(wait * 1000) + 1))
        }
    }

    /// Everyone waits `seconds` (the provider's 429 wait hint).
    public func pause(seconds: Double) {
        let until = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
        if until > pausedUntil { pausedUntil = until }
    }
}
