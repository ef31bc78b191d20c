import Foundation

/// What is known about how long runs of one feature and model take at the provider.
public struct RunTimeEstimate: Sendable, Hashable {
    /// When to poll first: the first percentile of a log-normal fitted to the learned
    /// durations (and never later than the shortest of them). A run that ends before the
    /// first poll waits for it, so about this fraction of runs can exceed the schedule's lag
    /// bound. The fit, rather than the smallest sample, keeps one unusually fast or slow run
    /// from moving it.
    public var earlySeconds: Double
    public var medianSeconds: Double
    /// When nearly every run has ended: the 99th percentile of the fit (and never before the
    /// longest learned duration). With webhooks on, the safety net's first poll.
    public var lateSeconds: Double
    public var samples: Int

    /// z of the first percentile of a standard normal.
    static let earlyQuantileZ = 2.326

    /// Nil below `minimumSamples` durations (not enough to trust).
    public init?(durations: [Double], minimumSamples: Int = 10) {
        let sorted = durations.filter { $0 > 0 && $0.isFinite }.sorted()
        guard sorted.count >= minimumSamples else { return nil }
        let logs = sorted.map { Foundation.log($0) }
        let mean = logs.reduce(0, +) / Double(logs.count)
        let deviation = (logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logs.count - 1)).squareRoot()
        earlySeconds = min(exp(mean - Self.earlyQuantileZ * deviation), sorted[0])
        medianSeconds = sorted[sorted.count / 2]
        lateSeconds = max(exp(mean + Self.earlyQuantileZ * deviation), sorted[sorted.count - 1])
        samples = sorted.count
    }
}
