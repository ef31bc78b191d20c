import Foundation
import KilnDomain

/// The demo's closing table.
struct DemoReport {
    let runs: [Run]
    let elapsed: Double
    let finishTime: @Sendable (ResponseID) -> Date?

    func print(scale: Double) {
        var out: [String] = ["", "status        runs"]
        for status in RunStatus.allCases {
            let count = runs.filter { $0.status == status }.count
            if count > 0 { out.append("\(status.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(count)") }
        }
        let polled = runs.filter { $0.responseID != nil }
        let polls = polled.map { Double($0.pollCount) }
        let lags: [Double] = runs.compactMap { run in
            guard [.completed, .failed, .incomplete].contains(run.status), let id = run.responseID, let finalized = run.finalizedAt,
                let providerDone = finishTime(id) ?? run.providerCompletedAt
            else { return nil }
            return max(0, finalized.timeIntervalSince(providerDone))
        }.sorted()
        out.append("")
        if !polls.isEmpty {
            out.append(
                String(
                    format: "polls per run         mean %.1f, max %.0f (%d runs sent to the provider)",
                    polls.reduce(0, +) / Double(polls.count), polls.max() ?? 0, polled.count))
        }
        if !lags.isEmpty {
            let p50 = lags[lags.count / 2]
            let p99 = lags[min(lags.count - 1, Int(Double(lags.count) * 0.99))]
            out.append(String(format: "provider done → row   p50 %.2f s, p99 %.2f s (real time)", p50, p99))
            if scale != 1 {
                out.append(
                    String(format: "                      p50 %.1f s, p99 %.1f s in provider time (×%.0f)", p50 * scale, p99 * scale, scale)
                )
            }
        }
        let input = runs.compactMap(\.usage).map(\.inputTokens).reduce(0, +)
        let output = runs.compactMap(\.usage).map(\.outputTokens).reduce(0, +)
        let cost = runs.compactMap(\.costMicros).reduce(0, +)
        out.append("tokens                \(input) in, \(output) out")
        out.append(String(format: "cost                  $%.4f", Double(cost) / 1_000_000))
        out.append(String(format: "wall time             %.1f s", elapsed))
        Console.line(out.joined(separator: "\n"))
    }
}
