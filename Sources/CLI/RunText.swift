import KilnDomain

/// Runs as plain text for a terminal.
enum RunText {
    static func line(_ run: Run) -> String {
        "\(run.id)  \(run.tenantID)  \(run.feature)  \(run.status.rawValue)  attempt \(run.attempt)  \(Timestamp.format(run.createdAt))"
    }

    /// `waiting`: why a queued run is held back by a limit (from its last `held` event).
    static func describe(_ run: Run, waiting: String? = nil) -> String {
        var lines = [
            "id:         \(run.id)",
            "tenant:     \(run.tenantID)",
            "feature:    \(run.feature)",
            "status:     \(run.status.rawValue)",
            "attempt:    \(run.attempt)",
            "created at: \(Timestamp.format(run.createdAt))",
        ]
        if let subject = run.subject { lines.append("subject:    \(subject.type):\(subject.id)") }
        if let parent = run.parentRunID {
            let place =
                run.level == 0 ? "part \((run.chunkIndex ?? 0) + 1)" : "merge \((run.chunkIndex ?? 0) + 1) of level \(run.level ?? 0)"
            lines.append("parent:     \(parent) (\(place), characters \(run.charStart ?? 0)–\(run.charEnd ?? 0))")
        }
        if let response = run.responseID { lines.append("response:   \(response) (\(run.providerStatus ?? "?"))") }
        if let batch = run.batchID { lines.append("batch:      \(batch) (the Batch lane's batch that carries the run, or last did)") }
        if let waiting { lines.append("waiting:    \(waiting)") }
        if let cancel = run.cancelRequestedAt { lines.append("cancel requested at: \(Timestamp.format(cancel))") }
        if let error = run.error { lines.append("error:      \(error.code) (\(error.source.rawValue)): \(error.message)") }
        if let usage = run.usage {
            lines.append("usage:      \(usage.inputTokens) in, \(usage.outputTokens) out, cost \(run.costMicros ?? 0) µ$")
        }
        if run.orphanCostMicros > 0 {
            lines.append("orphans:    responses the run did not use cost \(run.orphanCostMicros) µ$ more (see kiln events)")
        }
        if let state = run.reviewState {
            lines.append("review:     \(state)\(run.reviewedBy.map { " by \($0)" } ?? "")")
        }
        if let output = run.output {
            if let missing = output.missingRanges, !missing.isEmpty {
                lines.append("partial:    characters not summarized: " + missing.map { "\($0.start)–\($0.end)" }.joined(separator: ", "))
            }
            lines.append("output:\n\(output.json?.jsonText ?? output.text)")
            if let refusal = output.refusal { lines.append("refusal: \(refusal)") }
        }
        return lines.joined(separator: "\n")
    }
}
