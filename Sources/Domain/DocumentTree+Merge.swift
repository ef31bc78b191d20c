import Foundation

/// The tree's later steps: merge children for a finished level, the parent's result, and
/// what a failed child means for it.
extension DocumentTree {
    /// What a finished level leads to, given its children (in chunk order) and the level
    /// below's (for the characters it read; nil for the map level, which read the document).
    public func next(
        after level: Int, children: [TreeChild], below: [TreeChild]?, documentChars: Int
    ) -> ReducePlan {
        let parts = children.filter { $0.status == .completed }.map { ReducePart(chars: $0.outputChars) }
        let read =
            below.map { $0.filter { $0.status == .completed }.reduce(0) { $0 + $1.outputChars } } ?? documentChars
        return ReducePlanner.plan(after: level, parts: parts, levelInputChars: read, settings: settings.reduce)
    }

    /// The merge children of `level`: one per group of the completed `parts` below (in chunk
    /// order), labelled with the map parts they cover; the final one (a single group) is
    /// shaped by the document's `length` and `audience` and told which ranges are missing.
    public func mergeChildren(
        of parent: Run, policy: RunPolicy, level: Int, groups: [Range<Int>], parts: [TreeChild], mapChildren: [TreeChild],
        document: DocumentSummary.Document?, missing: [CharRange], now: Date
    ) -> [Run] {
        let final = groups.count == 1
        let deadline = self.deadline(of: parent, chunks: mapChildren.count, policy: policy)
        let childPolicy = self.childPolicy(parent, policy: policy, deadline: deadline, final: final, now: now)
        return groups.enumerated().map { index, group in
            let members = Array(parts[group])
            let start = members.first?.charStart ?? 0
            let end = members.last?.charEnd ?? 0
            var input: [String: JSONValue] = [
                "parts": .array(
                    members.map { member in
                        var name = label(start: member.charStart, end: member.charEnd, mapChildren: mapChildren)
                        if let cut = member.output?.truncatedChars, cut > 0 { name += ", its summary cut short by \(cut) characters" }
                        return .object(["label": .string(name), "text": .string(member.outputText)])
                    }),
                "final": .bool(final),
            ]
            let gaps = missing.filter { $0.start >= start && $0.end <= end || final }
            if !gaps.isEmpty {
                input["missing"] = .array(
                    gaps.map {
                        .string(label(start: $0.start, end: $0.end, mapChildren: mapChildren) + " (characters \($0.start)–\($0.end))")
                    })
            }
            if final, let document {
                input["length"] = .string(document.length.rawValue)
                if let audience = document.audience { input["audience"] = .string(audience) }
            }
            var child = Run(
                id: RunID.make(at: now), tenantID: parent.tenantID, userID: parent.userID, feature: DocumentMergeSummary().name,
                subject: parent.subject, input: .object(input), policy: childPolicy, createdAt: now)
            child.parentRunID = parent.id
            child.level = level
            child.chunkIndex = index
            child.charStart = start
            child.charEnd = end
            child.availableAt = index < settings.childrenInFlight ? now : Self.heldUntil
            return child
        }
    }

    /// "part 3 of 500" or "parts 41–60 of 500": the map chunks `[start, end)` covers.
    public func label(start: Int, end: Int, mapChildren: [TreeChild]) -> String {
        let total = mapChildren.count
        let first = mapChildren.firstIndex { $0.charEnd > start } ?? 0
        let last = mapChildren.lastIndex { $0.charStart < end } ?? max(0, total - 1)
        return first == last ? "part \(first + 1) of \(total)" : "parts \(first + 1)–\(last + 1) of \(total)"
    }

    /// The ranges of the document whose map child ended without a summary (in partial mode).
    public func missingRanges(mapChildren: [TreeChild]) -> [CharRange] {
        mapChildren.filter { $0.status.isTerminal && $0.status != .completed }.map { CharRange(start: $0.charStart, end: $0.charEnd) }
    }

    /// Whether the map children that ended without a result may be left out: their share of
    /// the document is within `policy.allow_missing_fraction`.
    public func mayLeaveOut(_ mapChildren: [TreeChild], policy: RunPolicy) -> Bool {
        let total = mapChildren.last?.charEnd ?? 0
        let missing = missingRanges(mapChildren: mapChildren).reduce(0) { $0 + $1.end - $1.start }
        guard policy.allowMissingFraction > 0, total > 0, missing < total else { return false }
        return Double(missing) <= policy.allowMissingFraction * Double(total)
    }

    /// Why the parent fails when `child` ended without a result.
    public func failure(of child: TreeChild, mapChildren count: Int) -> RunFailure {
        let place = child.level == 0 ? "part \(child.chunkIndex + 1) of \(count)" : "merge \(child.chunkIndex + 1) of level \(child.level)"
        let why = child.error.map { "\($0.code): \($0.message)" } ?? child.status.rawValue
        return RunFailure(
            code: "child_failed", message: "child run \(child.id) (\(place)) ended \(child.status.rawValue): \(why)", source: .kiln)
    }

    /// The parent's end: `status` with `output`, the usage and cost of its whole tree.
    public func outcome(
        _ status: RunStatus, output: RunOutput?, error: RunFailure?, tree: [TreeChild], policy: RunPolicy, now: Date
    ) -> ProviderOutcome {
        var usage = RunUsage(inputTokens: 0, outputTokens: 0, totalTokens: 0)
        var cost: Int64 = 0
        for child in tree {
            cost += child.costMicros + child.orphanCostMicros
            guard let used = child.usage else { continue }
            usage.inputTokens += used.inputTokens
            usage.outputTokens += used.outputTokens
            usage.totalTokens += used.totalTokens
            usage.cachedInputTokens += used.cachedInputTokens
            usage.reasoningTokens += used.reasoningTokens
        }
        return ProviderOutcome(
            status: status, providerStatus: status.rawValue, output: output, error: error, usage: usage, costMicros: cost,
            providerCompletedAt: now, requiresReview: policy.requiresReview, pollsCounted: 1)
    }
}

extension TreeChild {
    /// The child's output text (empty without one).
    public var outputText: String { output?.text ?? "" }
    /// Its length in Unicode scalars.
    public var outputChars: Int { outputText.unicodeScalars.count }
}
