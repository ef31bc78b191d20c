import Foundation

/// When to poll an in-flight run next: a pure function of the run's age, what the provider
/// said, and what is known about runs like it.
///
/// Geometric: each poll comes `growth` times the run's age after submission, so the time
/// between the provider finishing and Kiln noticing stays under `growth − 1` of the run's
/// age (9.5 % by default: the age includes the queue wait, so measured against the
/// generation alone the p99 stays under 10 %) while the number of polls grows only with
/// the logarithm of the duration. The first poll comes near the first percentile of this feature's learned
/// run times (before anything is learned, `initial_delay_seconds`). Intervals stay within
/// [`min_interval_seconds`, `max_interval_seconds`]; the maximum is well under the
/// provider's ~10-minute retention of background results. Jitter only shortens an interval,
/// so it spreads load without adding lag. A run with a `2h`/`8h` completion window that is
/// still `queued` is polled at the maximum interval: it may wait hours by design; once it
/// runs, its age counts from when a poll first saw it `in_progress`, not from its submission.
///
/// With webhooks on (``PollerSettings/webhooksEnabled``) a webhook makes the run due when it
/// ends, and polling is the safety net: the first poll after nearly every run like it has
/// ended (the learned 99th percentile; before anything is learned, `safety_net` seconds),
/// then intervals of half the run's age, never longer than the safety net's maximum (under
/// the provider's retention). A webhook that never comes changes latency, never the outcome.
public struct PollSchedule: Sendable {
    public var settings: PollerSettings

    public init(settings: PollerSettings) {
        self.settings = settings
    }

    /// The first poll after the provider accepted a run at `now`.
    public func firstPoll(at now: Date, estimate: RunTimeEstimate?, window: RunPolicy.CompletionWindow?, random: Double) -> Date {
        if settings.webhooksEnabled {
            let delay = max(settings.initialDelaySeconds, estimate?.lateSeconds ?? settings.safetyNetMaxSeconds)
            return now.addingTimeInterval(min(settings.safetyNetMaxSeconds, delay) * (1 - settings.jitter * random))
        }
        var delay = settings.initialDelaySeconds
        if let estimate { delay = estimate.earlySeconds }
        if let window, window != .soonest { delay = max(delay, settings.maxIntervalSeconds) }
        return now.addingTimeInterval(clamp(delay) * (1 - settings.jitter * random))
    }

    /// The poll after one that found the run still running at `now`. `startedAt` is when
    /// the run's age counts from: its submission, or for a run with a completion window, when
    /// it left the provider's queue.
    public func nextPoll(
        startedAt: Date, now: Date, providerStatus: ProviderResponse.Status, window: RunPolicy.CompletionWindow?,
        random: Double
    ) -> Date {
        let age = max(0, now.timeIntervalSince(startedAt))
        if settings.webhooksEnabled {
            let interval = min(settings.safetyNetMaxSeconds, max(settings.minIntervalSeconds, age * 0.5))
            return now.addingTimeInterval(interval * (1 - settings.jitter * random))
        }
        var interval = age * (settings.growth - 1)
        if providerStatus == .queued, let window, window != .soonest { interval = settings.maxIntervalSeconds }
        return now.addingTimeInterval(clamp(interval) * (1 - settings.jitter * random))
    }

    private func clamp(_ seconds: Double) -> Double {
        min(settings.maxIntervalSeconds, max(settings.minIntervalSeconds, seconds))
    }
}
