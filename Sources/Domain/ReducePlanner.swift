/// One output of a finished level, as the planner sees it.
public struct ReducePart: Sendable, Hashable {
    /// Length of its output text, in Unicode scalars.
    public var chars: Int

    public init(chars: Int) {
        self.chars = chars
    }
}

/// The reduce planner's limits (`documents.group_chars`, `documents.max_depth`,
/// `documents.min_shrink`).
public struct ReduceSettings: Sendable, Hashable {
    /// Most characters of partial outputs one reduce run reads (default 150,000).
    public var groupChars: Int
    /// Deepest reduce level allowed (default 4).
    public var maxDepth: Int
    /// Each level's output must be at most `1 − minShrink` of its input (default 0.3).
    public var minShrink: Double

    public init(groupChars: Int = 150_000, maxDepth: Int = 4, minShrink: Double = 0.3) {
        self.groupChars = groupChars
        self.maxDepth = maxDepth
        self.minShrink = minShrink
    }
}

/// What follows a finished level of a document tree.
public enum ReducePlan: Sendable, Hashable {
    /// The next level: contiguous groups, as ranges of indices into the parts, in order,
    /// covering every part exactly once. One group means it is the final reduce.
    case reduce(level: Int, groups: [Range<Int>])
    /// Stop: the tree cannot go on. `code` is `tree_not_shrinking`, `tree_too_deep` or
    /// `tree_empty_level`; `reason` names the numbers.
    case fail(code: String, reason: String)
}

/// Plans the reduce levels of a map-reduce tree: map children summarize chunks (level 0),
/// reduce children (levels 1, 2, …) summarize contiguous groups of the level below, in chunk
/// order, until one reduce remains.
///
/// Two guards keep a tree finite and affordable: every level must shrink what it read by
/// ``ReduceSettings/minShrink`` (a model that echoes its input would otherwise loop until the
/// depth limit, paying each time), and no tree goes deeper than ``ReduceSettings/maxDepth``.
/// Groups are the fewest that fit ``ReduceSettings/groupChars``, balanced so that no reduce
/// reads much more than another.
public enum ReducePlanner {
    /// What follows a finished `level` (0 = map) whose outputs are `parts` (in chunk order),
    /// given that the level read `levelInputChars` characters in total (the document for
    /// level 0). The shrink guard comes first, then the depth limit.
    public static func plan(after level: Int, parts: [ReducePart], levelInputChars: Int, settings: ReduceSettings) -> ReducePlan {
        guard !parts.isEmpty else {
            return .fail(code: "tree_empty_level", reason: "level \(level) finished with no outputs to reduce")
        }
        let sizes = parts.map { max(0, $0.chars) }
        let total = sizes.reduce(0, +)
        let allowed = (1 - settings.minShrink) * Double(levelInputChars)
        if Double(total) > allowed {
            let ratio = levelInputChars > 0 ? rounded(Double(total) / Double(levelInputChars)) : Double.infinity
            return .fail(
                code: "tree_not_shrinking",
                reason: "level \(level) read \(levelInputChars) characters and wrote \(total) (ratio \(ratio)); "
                    + "documents.min_shrink \(settings.minShrink) allows at most \(rounded(1 - settings.minShrink))")
        }
        if level + 1 > settings.maxDepth {
            return .fail(
                code: "tree_too_deep",
                reason: "level \(level) left \(parts.count) outputs; reduce level \(level + 1) would pass "
                    + "documents.max_depth \(settings.maxDepth)")
        }
        return .reduce(level: level + 1, groups: groups(sizes, total: total, groupChars: settings.groupChars))
    }

    /// The number of reduce levels (≥ 1) a tree of `chunks` map outputs of `partChars` each
    /// needs, assuming each reduce also writes about `partChars`. When a reduce cannot read
    /// two parts the tree never converges: the answer is then `maxDepth + 1`, one level more
    /// than allowed.
    public static func estimatedDepth(chunks: Int, partChars: Int, settings: ReduceSettings) -> Int {
        let perGroup = partChars > 0 ? max(1, settings.groupChars / partChars) : Int.max
        var parts = max(1, chunks)
        var depth = 0
        repeat {
            if perGroup == 1 && parts > 1 { return settings.maxDepth + 1 }
            parts = perGroup == Int.max ? 1 : (parts + perGroup - 1) / perGroup
            depth += 1
        } while parts > 1
        return depth
    }

    /// The fewest contiguous groups within `groupChars` (a part larger than that alone),
    /// balanced: the smallest cap that still needs no more groups, then each group filled
    /// towards an equal share of what remains. Falls back to greedy filling at that cap.
    private static func groups(_ sizes: [Int], total: Int, groupChars: Int) -> [Range<Int>] {
        let count = greedy(sizes, cap: groupChars).count
        if count == 1 { return [0..<sizes.count] }
        var low = (total + count - 1) / count
        var high = max(low, groupChars)
        while low < high {
            let middle = low + (high - low) / 2
            if greedy(sizes, cap: middle).count <= count { high = middle } else { low = middle + 1 }
        }
        return balanced(sizes, total: total, count: count, cap: low) ?? greedy(sizes, cap: low)
    }

    /// Contiguous groups, each filled while the next part fits under `cap`.
    private static func greedy(_ sizes: [Int], cap: Int) -> [Range<Int>] {
        var groups: [Range<Int>] = []
        var start = 0
        var sum = 0
        for (index, size) in sizes.enumerated() {
            if index > start && sum + size > cap {
                groups.append(start..<index)
                start = index
                sum = 0
            }
            sum += size
        }
        groups.append(start..<sizes.count)
        return groups
    }

    /// Exactly `count` groups within `cap`, each closed when the next part would take it
    /// further past an equal share of what remains than stopping short does; nil if that fails.
    private static func balanced(_ sizes: [Int], total: Int, count: Int, cap: Int) -> [Range<Int>]? {
        var groups: [Range<Int>] = []
        var start = 0
        var remaining = total
        for group in 0..<count - 1 {
            let target = Double(remaining) / Double(count - group)
            var end = start
            var sum = 0
            while end < sizes.count {
                let size = sizes[end]
                let partsLeft = sizes.count - end - 1
                if end > start && (sum + size > cap || Double(sum) + Double(size) / 2 > target || partsLeft < count - group - 1) {
                    break
                }
                sum += size
                end += 1
            }
            guard end > start else { return nil }
            groups.append(start..<end)
            remaining -= sum
            start = end
        }
        guard start < sizes.count, remaining <= cap || sizes.count - start == 1 else { return nil }
        groups.append(start..<sizes.count)
        return groups
    }

    private static func rounded(_ value: Double) -> Double {
        (value * 100).rounded() / 100
    }
}
