import Foundation
import KilnDomain
import Testing

@Suite("Poll schedule")
struct PollScheduleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let schedule = PollSchedule(settings: PollerSettings())

    /// SplitMix64: the same draws on every run of the suite.
    struct Draws {
        var state: UInt64
        mutating func unit() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
        /// Queue wait uniform 0–10 s and a log-normal generation (median 180 s, σ 0.6): the standard workload.
        mutating func run() -> (queue: Double, generation: Double) {
            let u1 = max(unit(), 1e-12)
            let u2 = unit()
            let normal = (-2 * Foundation.log(u1)).squareRoot() * cos(2 * .pi * u2)
            return (10 * unit(), 180 * exp(0.6 * normal))
        }
    }

    @Test func eachPollComesGrowthMinusOneOfTheRunsAgeLaterWithinTheBounds() {
        func interval(age: Double, random: Double = 0) -> Double {
            schedule.nextPoll(startedAt: start, now: start + age, providerStatus: .inProgress, window: nil, random: random)
                .timeIntervalSince(start + age)
        }
        #expect(abs(interval(age: 100) - 9.5) < 1e-9, "growth 1.095: 9.5 % of the age")
        #expect(interval(age: 5) == 2, "never below min_interval_seconds")
        #expect(interval(age: 5000) == 120, "never above max_interval_seconds")
        #expect(interval(age: 100, random: 0.999) < 9.5 && interval(age: 100, random: 0.999) >= 8.55, "jitter only shortens")
    }

    @Test func theFirstPollComesFromLearnedTimesAndAQueuedWindowRunWaitsTheMaximum() throws {
        let first = schedule.firstPoll(at: start, estimate: nil, window: nil, random: 0)
        #expect(first == start + 5, "initial_delay_seconds before anything is learned")
        let learned = try #require(RunTimeEstimate(durations: (1...100).map { Double($0) + 40 }))
        #expect(learned.earlySeconds <= 41, "never later than the shortest learned run")
        #expect(schedule.firstPoll(at: start, estimate: learned, window: nil, random: 0) == start + learned.earlySeconds)
        #expect(schedule.firstPoll(at: start, estimate: learned, window: .twoHours, random: 0) == start + 120)
        let queued = schedule.nextPoll(startedAt: start, now: start + 10, providerStatus: .queued, window: .eightHours, random: 0)
        #expect(queued == start + 130)
        #expect(RunTimeEstimate(durations: [1, 2, 3]) == nil, "too few runs to learn from")
    }

    /// The schedule's promise on the standard workload, computed exactly (no clocks): learning
    /// from 100 earlier runs, p99 of (lag ÷ generation) stays ≤ 0.10 with well under a fifth
    /// of the docs loop's polls (one every 2 s).
    @Test func onTheStandardWorkloadLagStaysUnderATenthWithAFifthOfTheDocsLoopsPolls() throws {
        for seed in [UInt64(1), 2, 3] {
            var draws = Draws(state: seed)
            let history = (0..<100).map { _ in draws.run() }.map { $0.queue + $0.generation }
            let estimate = try #require(RunTimeEstimate(durations: history))
            var relativeLags: [Double] = []
            var polls = 0
            var docsLoopPolls = 0
            let runs = 5000
            for _ in 0..<runs {
                let run = draws.run()
                let done = run.queue + run.generation
                var now = schedule.firstPoll(at: start, estimate: estimate, window: nil, random: draws.unit()).timeIntervalSince(start)
                polls += 1
                while now < done {
                    now = schedule.nextPoll(
                        startedAt: start, now: start + now, providerStatus: .inProgress, window: nil, random: draws.unit()
                    )
                    .timeIntervalSince(start)
                    polls += 1
                }
                relativeLags.append((now - done) / run.generation)
                docsLoopPolls += Int((done / 2).rounded(.up))
            }
            let p99 = relativeLags.sorted()[Int(Double(runs) * 0.99)]
            let perRun = Double(polls) / Double(runs)
            let docsPerRun = Double(docsLoopPolls) / Double(runs)
            #expect(p99 <= 0.10, "seed \(seed): p99 lag ÷ generation \(p99)")
            #expect(perRun * 5 < docsPerRun, "seed \(seed): \(perRun) polls per run against the docs loop's \(docsPerRun)")
        }
    }
}
