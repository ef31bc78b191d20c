import KilnDomain
import Testing

@Suite("Reduce planner")
struct ReducePlannerTests {
    let settings = ReduceSettings()

    func parts(_ chars: [Int]) -> [ReducePart] {
        chars.map { ReducePart(chars: $0) }
    }

    func groups(_ plan: ReducePlan) -> [Range<Int>] {
        if case .reduce(_, let groups) = plan { return groups }
        Issue.record("expected a reduce, got \(plan)")
        return []
    }

    func sums(_ groups: [Range<Int>], of chars: [Int]) -> [Int] {
        groups.map { chars[$0].reduce(0, +) }
    }

    @Test func groupsAreContiguousCoverEveryPartInOrderAndAreTheFewestThatFit() {
        var state: UInt64 = 7
        let chars = (0..<500).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return 1_000 + Int((state >> 33) % 19_000)
        }
        let total = chars.reduce(0, +)
        let plan = ReducePlanner.plan(after: 0, parts: parts(chars), levelInputChars: total * 10, settings: settings)
        let groups = groups(plan)
        #expect(plan == .reduce(level: 1, groups: groups))
        #expect(groups.first?.lowerBound == 0 && groups.last?.upperBound == chars.count)
        #expect(zip(groups, groups.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$0.isEmpty })
        #expect(sums(groups, of: chars).allSatisfy { $0 <= 150_000 })
        var greedyCount = 1
        var sum = 0
        for size in chars {
            if sum + size > 150_000 {
                greedyCount += 1
                sum = 0
            }
            sum += size
        }
        #expect(groups.count == greedyCount, "as few groups as filling each to the limit")
    }

    @Test func groupsAreBalancedRatherThanFilledToTheLimit() {
        let twenty = Array(repeating: 8_000, count: 20)
        let plan = ReducePlanner.plan(after: 0, parts: parts(twenty), levelInputChars: 2_000_000, settings: settings)
        #expect(plan == .reduce(level: 1, groups: [0..<10, 10..<20]), "two reads of 80,000, not 144,000 and 16,000")
        let ten = Array(repeating: 10, count: 10)
        let small = ReduceSettings(groupChars: 35)
        let balanced = sums(groups(ReducePlanner.plan(after: 0, parts: parts(ten), levelInputChars: 1_000, settings: small)), of: ten)
        #expect(balanced.count == 4, "filled to the limit: 30, 30, 30, 10")
        #expect(balanced.max()! - balanced.min()! <= 10 && balanced.max()! <= 30, "\(balanced)")
    }

    @Test func outputsThatFitOneReadMakeTheFinalReduce() {
        let plan = ReducePlanner.plan(after: 0, parts: parts([8_000, 9_000, 7_000]), levelInputChars: 300_000, settings: settings)
        #expect(plan == .reduce(level: 1, groups: [0..<3]))
        let later = ReducePlanner.plan(after: 2, parts: parts([8_000, 8_000]), levelInputChars: 200_000, settings: settings)
        #expect(later == .reduce(level: 3, groups: [0..<2]))
    }

    @Test func aLevelThatDoesNotShrinkFailsTheTreeNamingItsNumbers() {
        let plan = ReducePlanner.plan(
            after: 1, parts: parts(Array(repeating: 8_000, count: 10)), levelInputChars: 100_000, settings: settings)
        guard case .fail(let code, let reason) = plan else {
            Issue.record("expected a failure, got \(plan)")
            return
        }
        #expect(code == "tree_not_shrinking")
        #expect(reason.contains("level 1") && reason.contains("100000") && reason.contains("80000") && reason.contains("0.8"), "\(reason)")
        let shrinking = ReducePlanner.plan(after: 1, parts: parts([30_000, 30_000]), levelInputChars: 100_000, settings: settings)
        #expect(shrinking == .reduce(level: 2, groups: [0..<2]), "0.6 of the input is shrinking enough")
        let deepAndFlat = ReducePlanner.plan(after: 9, parts: parts([90_000]), levelInputChars: 100_000, settings: settings)
        #expect(deepAndFlat.failureCode == "tree_not_shrinking", "the shrink guard comes before the depth limit")
    }

    @Test func aTreeStopsAtMaxDepth() {
        let plan = ReducePlanner.plan(after: 4, parts: parts([8_000, 8_000]), levelInputChars: 200_000, settings: settings)
        guard case .fail(let code, let reason) = plan else {
            Issue.record("expected a failure, got \(plan)")
            return
        }
        #expect(code == "tree_too_deep")
        #expect(reason.contains("level 5") && reason.contains("max_depth 4"), "\(reason)")
        let last = ReducePlanner.plan(after: 3, parts: parts([8_000, 8_000]), levelInputChars: 200_000, settings: settings)
        #expect(last == .reduce(level: 4, groups: [0..<2]))
    }

    @Test func aPartLargerThanAReadGoesAloneAndAnEmptyLevelFails() {
        let chars = [100_000, 200_000, 20_000, 30_000]
        let plan = ReducePlanner.plan(after: 0, parts: parts(chars), levelInputChars: 10_000_000, settings: settings)
        #expect(plan == .reduce(level: 1, groups: [0..<1, 1..<2, 2..<4]))
        let alone = ReducePlanner.plan(after: 0, parts: parts([400_000]), levelInputChars: 10_000_000, settings: settings)
        #expect(alone == .reduce(level: 1, groups: [0..<1]))
        let empty = ReducePlanner.plan(after: 0, parts: [], levelInputChars: 10_000, settings: settings)
        #expect(empty.failureCode == "tree_empty_level")
    }

    @Test func estimatedDepthCountsTheLevelsOfGreedyGroups() {
        // 500 outputs of 8,000: 18 per read, so 28 reads, then 2, then the final one.
        #expect(ReducePlanner.estimatedDepth(chunks: 500, partChars: 8_000, settings: settings) == 3)
        #expect(ReducePlanner.estimatedDepth(chunks: 18, partChars: 8_000, settings: settings) == 1)
        #expect(ReducePlanner.estimatedDepth(chunks: 19, partChars: 8_000, settings: settings) == 2)
        #expect(ReducePlanner.estimatedDepth(chunks: 1, partChars: 8_000, settings: settings) == 1)
        #expect(
            ReducePlanner.estimatedDepth(chunks: 3, partChars: 100_000, settings: settings) == 5,
            "one part per read never converges: one level past max_depth")
    }

    @Test(arguments: [1, 2, 18, 19, 100, 500, 5_000])
    func estimatedDepthIsTheDepthThePlannerReaches(chunks: Int) {
        let wide = ReduceSettings(maxDepth: 10)
        var level = 0
        var count = chunks
        var read = chunks * 100_000
        while true {
            let plan = ReducePlanner.plan(
                after: level, parts: parts(Array(repeating: 8_000, count: count)), levelInputChars: read, settings: wide)
            let next = groups(plan)
            guard !next.isEmpty else { return }
            level += 1
            if next.count == 1 { break }
            read = count * 8_000
            count = next.count
        }
        #expect(ReducePlanner.estimatedDepth(chunks: chunks, partChars: 8_000, settings: wide) == level)
    }
}

extension ReducePlan {
    fileprivate var failureCode: String? {
        if case .fail(let code, _) = self { return code }
        return nil
    }
}
