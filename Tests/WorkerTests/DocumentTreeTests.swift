import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// Long documents end to end against the simulator: a text longer than one request becomes a
/// tree of child runs (map, then merge levels) and one summary on the parent, on both backends.
/// The simulator keeps every planted `FACT-…` word of its input, in order, so the parent's
/// output shows whether every chunk was summarized and merged in chunk order.
@Suite("Long documents, end to end", .serialized)
struct DocumentTreeTests {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// `parts` paragraphs of about 3,900 characters, each with one fact (FACT-0001…), so a
    /// 4,000-character chunking cuts exactly one paragraph per chunk; `extra` adds text to a
    /// paragraph (a simulator directive).
    static func document(parts: Int, extra: [Int: String] = [:]) -> String {
        (1...parts).map { part in
            var paragraph = "Section \(part) opens. \(fact(part)) is recorded in this section. \(extra[part] ?? "")"
            var line = 0
            while paragraph.count < 3_850 {
                line += 1
                paragraph += " Ledger line \(line) of section \(part) lists \(line * 7) crates and \(part) ships."
            }
            return paragraph
        }.joined(separator: "\n\n")
    }

    static func fact(_ part: Int) -> String { "FACT-" + String(format: "%04d", part) }

    /// The facts the summary lists (the simulator ends a summary with `Facts: …` of its input's
    /// facts, in order), exactly: a part merged twice would show its fact twice.
    static func facts(in text: String) -> [String] {
        guard let list = text.range(of: "Facts: ", options: .backwards) else { return [] }
        return text[list.upperBound...].split(separator: " ").map { String($0.prefix { $0.isLetter || $0.isNumber || $0 == "-" }) }
            .filter { $0.hasPrefix("FACT-") }
    }

    static func configure(_ configuration: inout KilnConfiguration) {
        configuration.limits.maxInputChars = 8_000
        configuration.documents.chunkChars = 4_000
        configuration.documents.groupChars = 8_000
        configuration.documents.childrenInFlight = 4
        configuration.documents.checkSeconds = 0.1
    }

    /// The store of `backend`, and a way to run SQL on it as an application would.
    static func store(_ backend: Backend, _ h: Harness) async throws -> (any RunStore, @Sendable (String) async throws -> Void) {
        switch backend {
        case .sqlite:
            return (h.store, { [h] sql in try await h.store.execute(sql) })
        case .postgres:
            let url = try await TestPostgres.freshDatabase()
            let postgres = try PostgresRunStore(url: url)
            try await postgres.migrate()
            return (postgres, { sql in try await TestPostgres.execute(sql, url: url) })
        }
    }

    static func insertSQL(id: String, text: String, policy: JSONValue = [:]) -> String {
        let input = JSONValue.object(["text": .string(text), "length": "medium"]).jsonText
        return
            "INSERT INTO ai_runs (id, tenant_id, feature, input, policy) VALUES ('\(id)', 'acme', 'document_summary', '\(input)', '\(policy.jsonText)')"
    }

    @Test(arguments: Backend.allCases)
    func aRowWithALongTextIsSummarizedByATreeOfChildren(backend: Backend) async throws {
        try await Harness.with { h in
            Self.configure(&h.configuration)
            let (store, execute) = try await Self.store(backend, h)
            let text = Self.document(parts: 60)
            try await execute(Self.insertSQL(id: "run_book", text: text))
            let parent = RunID("run_book")

            // The first pass cuts the document; the next sends only the released children.
            try await h.withEnvironment(store: store) { environment in
                let submitter = Submitter(environment: environment)
                let cut = try await submitter.runOnce(now: Date())
                #expect(cut.expanded == 1)
                let sent = try await submitter.runOnce(now: Date())
                #expect(sent.accepted == 4, "children in flight are bounded by documents.children_in_flight")
                let early = try await store.treeProgress(of: parent)
                #expect(early.count(level: 0) == 60)
                #expect(early.inFlight(level: 0) == 4)
                #expect(early.held(level: 0) == 56)
            }

            try await h.drain(store: store, timeout: 60)
            let done = try #require(try await store.run(parent, tenant: nil))
            #expect(done.status == .completed, "\(done.error?.message ?? "")")
            #expect(h.simulator.responses(ofRun: parent.rawValue).isEmpty, "a parent never calls the provider")

            let children = try await store.treeChildren(of: parent, level: nil)
            let map = children.filter { $0.level == 0 }
            #expect(map.count == 60)
            // Every character covered exactly once, in order, and each chunk summarized once.
            var next = 0
            for (index, child) in map.enumerated() {
                #expect(child.chunkIndex == index)
                #expect(child.charStart == next)
                next = child.charEnd
                #expect(child.status == .completed)
                #expect(h.simulator.responses(ofRun: child.id.rawValue).count == 1)
                let row = try #require(try await store.run(child.id, tenant: nil))
                #expect(row.input["text"]?.stringValue?.contains(Self.fact(index + 1)) == true)
                #expect(row.input["part"] == .number(Double(index + 1)))
            }
            #expect(next == text.unicodeScalars.count)
            let pieces = try await map.asyncMap { try #require(try await store.run($0.id, tenant: nil)).input["text"]?.stringValue ?? "" }
            #expect(pieces.joined() == text, "the chunks put together are the document")

            // Merges read their parts in chunk order; the last level has one merge, the parent's output.
            let levels = Set(children.map(\.level)).sorted()
            #expect(levels == [0, 1, 2])
            let merges = children.filter { $0.level == 1 }
            #expect(merges.count >= 2, "sizes: \(children.map(\.outputChars))")
            let firstMerge = try #require(try await store.run(merges[0].id, tenant: nil))
            let labels = firstMerge.input["parts"]?.arrayValue?.compactMap { $0["label"]?.stringValue } ?? []
            #expect(labels.first == "part 1 of 60")
            #expect(labels == labels.indices.map { "part \($0 + 1) of 60" })
            let secondMerge = try #require(try await store.run(merges[1].id, tenant: nil))
            let continued = secondMerge.input["parts"]?.arrayValue?.first?["label"]?.stringValue
            #expect(continued == "part \(labels.count + 1) of 60", "the second merge goes on where the first stopped")
            let final = try #require(children.last)
            #expect(final.level == 2)
            let finalRow = try #require(try await store.run(final.id, tenant: nil))
            #expect(finalRow.input["final"] == .bool(true))
            #expect(finalRow.input["length"] == "medium", "the final merge is shaped by the document's length")
            #expect(done.output?.text == final.output?.text)
            #expect(Self.facts(in: done.output?.text ?? "") == (1...60).map(Self.fact), "every fact, in chunk order")
            #expect(done.output?.missingRanges == nil)

            // The parent's usage and cost are its tree's.
            #expect(done.costMicros == children.reduce(0) { $0 + $1.costMicros + $1.orphanCostMicros })
            #expect(done.usage?.inputTokens == children.reduce(0) { $0 + ($1.usage?.inputTokens ?? 0) })
            #expect((done.costMicros ?? 0) > 0)
            let summary = try await store.summary()
            #expect(summary.counts["completed"] == 1, "the app's one run")
            #expect(summary.childCounts["completed"] == children.count)
            #expect(summary.costMicros == done.costMicros, "a parent's cost is its children's, counted once")
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values: [T] = []
        for element in self { values.append(try await transform(element)) }
        return values
    }
}
