import Foundation
import KilnDomain

/// The demo's closing table.
struct DemoReport {
    let runs: [Run]
    let elapsed: Double
    let finishTime: @Sendable (ResponseID) -> Date?
    /// The demo's review decision, as the audit trail recorded it.
    let review: RunEvent?
    /// The long document and its children.
    let tree: (parent: Run, children: [TreeChild])?

    func print(scale: Double) {
        var out: [String] = ["", "status        runs"]
        for status in RunStatus.allCases {
            let count = runs.filter { $0.status == status }.count
            if count > 0 { out.append("\(status.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(count)") }
        }
        out.append("")
        out.append("feature            runs  completed  result")
        for feature in Set(runs.map(\.feature)).sorted() {
            let mine = runs.filter { $0.feature == feature }
            let completed = mine.filter { $0.status == .completed }
            let result =
                feature == DemoFeatures.productCard
                ? "\(completed.filter { $0.output?.json != nil }.count) JSON objects valid against the schema"
                : feature == DemoFeatures.supportReply
                    ? "\(completed.filter { $0.reviewState == "pending" }.count) drafts waiting for review, "
                        + "\(completed.filter { $0.reviewState == "accepted" }.count) accepted"
                    : "text"
            out.append(
                "\(feature.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(format: "%4d  %9d", mine.count, completed.count))  \(result)"
            )
        }
        if let card = runs.first(where: { $0.feature == DemoFeatures.productCard && $0.output?.json != nil }),
            let json = card.output?.json
        {
            out.append("a product card      \(json.jsonText.prefix(110))")
        }
        if let review {
            out.append(
                "a review            \(review.runID.rawValue) \(review.details["review_state"]?.stringValue ?? "") by \(review.actor) (event \(review.kind))"
            )
        }
        if let (parent, children) = tree {
            let levels = Set(children.map(\.level)).count
            let characters = children.filter { $0.level == 0 }.last?.charEnd ?? 0
            out.append(
                String(
                    format: "a long document      %@: %d characters → %d children over %d levels, %@, cost $%.4f (its tree's)",
                    parent.id.rawValue, characters, children.count, levels, parent.status.rawValue,
                    Double(parent.costMicros ?? 0) / 1_000_000))
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
