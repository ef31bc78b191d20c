import Foundation
import KilnDomain
import KilnPoller
import KilnSQLite
import KilnSimulator
import KilnSubmitter
import KilnWorker
import Testing

@Suite("Overlapping workers and a faulty provider", .serialized)
struct ConcurrencyTests {
    /// Cron mode: `--once` passes repeated, two of them always overlapping, on separate
    /// connections as separate processes would be.
    @Test func overlappingOncePassesFinishEveryRunExactlyOnce() async throws {
        try await Harness.with { h in
            var ids: [RunID] = []
            for i in 0..<60 { ids.append(try await h.enqueue("Document \(i) with some words.").id) }
            let other = try SQLiteRunStore(path: h.path)
            try await h.withEnvironment(owner: "cron:1") { a in
                try await h.withEnvironment(owner: "cron:2", store: other) { b in
                    let deadline = Date().addingTimeInterval(30)
                    while Date() < deadline {
                        async let first = Self.oncePass(a)
                        async let second = Self.oncePass(b)
                        _ = try await (first, second)
                        let summary = try await h.store.summary()
                        if summary.inFlight == 0 && (summary.counts["queued"] ?? 0) == 0 { break }
                        try await Task.sleep(for: .milliseconds(30))
                    }
                }
            }
            for id in ids {
                let run = try await h.run(id)
                #expect(run.status == .completed, "\(id)")
                #expect(run.output?.text == h.providerText(id))
                let terminal = try await h.store.events(of: id).filter { $0.toStatus.isTerminal }
                #expect(terminal.count == 1, "finalized once: \(id)")
                #expect(h.simulator.responses(ofRun: id.rawValue).count == 1, "submitted once: \(id)")
            }
            let owners = Set(try await ids.asyncFlatMap { try await h.store.events(of: $0) }.map(\.actor))
            #expect(owners.isSuperset(of: ["cron:1", "cron:2"]), "both processes did work")
        }
    }

    static func oncePass(_ environment: WorkerEnvironment) async throws {
        let cutoff = Date()
        _ = try await Submitter(environment: environment).runOnce(now: Date(), dueBy: cutoff)
        _ = try await Poller(environment: environment).runOnce(now: Date(), dueBy: cutoff)
    }

    /// 429s, 5xx, HTML error pages, dropped connections, truncated bodies: the outcomes are
    /// the provider's, and every duplicate create is accounted for.
    @Test func aFaultyProviderChangesNothingInTheOutcomes() async throws {
        let simulator = Harness.simulator {
            $0.faultRate = 0.25
            $0.faultMix = [.rateLimited, .serverError, .unavailableHTML, .drop, .truncated]
            $0.failedShare = 0.1
            $0.incompleteShare = 0.1
            $0.seed = 7
        }
        try await Harness.with(simulator: simulator) { h in
            h.configuration.policy.maxAttempts = 10
            var ids: [RunID] = []
            for i in 0..<40 { ids.append(try await h.enqueue("Faulty day document \(i).").id) }
            try await h.drain(timeout: 60)
            var duplicates = 0
            for id in ids {
                let run = try await h.run(id)
                let record = try #require(h.providerRecord(id), "the provider has a response for \(id)")
                #expect(run.status.rawValue == record["status"] as? String, "\(id)")
                #expect(run.responseID?.rawValue == record["id"] as? String, "the last response is the one recorded")
                if run.status == .completed { #expect(run.output?.text == h.providerText(id)) }
                duplicates += h.simulator.responses(ofRun: id.rawValue).count - 1
            }
            let reported = try await h.store.summary().possibleDuplicates
            #expect(reported >= duplicates, "every duplicate create is matched by a possible_duplicate event")
            let faults = h.simulator.statistics()["faults"] as? [String: Int] ?? [:]
            #expect(faults.values.reduce(0, +) > 10, "faults were actually served: \(faults)")
        }
    }
}

extension Sequence {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result += try await transform(element) }
        return result
    }
}
