import Foundation
import KilnSimulator
import Testing

/// A declared feature from the shell: enqueue, work, review, display, and the audit trail.
@Suite("kiln: declared features and reviews from the shell")
struct ReviewCommandTests {
    static let configuration = """
        {"features": {"product_card": {"prompt_version": "product_card/v2", "policy": {"requires_review": true},
          "output_schema": {"type": "object", "additionalProperties": false, "required": ["title", "bullets"],
            "properties": {"title": {"type": "string"}, "bullets": {"type": "array", "items": {"type": "string"}}}}}}}
        """

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test func aReviewedProductCardLeavesItsDecisionsInTheEvents() async throws {
        let kiln = try KilnProcess()
        _ = try kiln.write("kiln.json", Self.configuration)
        var simulatorConfiguration = SimulatorConfiguration()
        simulatorConfiguration.apiKey = "sk-review-test-0123456789"
        simulatorConfiguration.generationMedian = 0.2
        simulatorConfiguration.queueWaitMax = 0.05
        let simulator = Simulator(configuration: simulatorConfiguration)
        try await simulator.withRunning { base in
            let environment = ["KILN_CONFIG": "kiln.json", "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-review-test-0123456789"]
            var ids: [String] = []
            for item in ["A walnut desk.", "A brass lamp."] {
                let enqueued = try await kiln.run(
                    ["enqueue", "product_card", "--tenant", "shop", "--input", #"{"input": "\#(item)"}"#], environment: environment)
                #expect(enqueued.status == 0, "\(enqueued.stderr)")
                ids.append(enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            for _ in 0..<40 {
                _ = try await kiln.run(["work", "--once"], environment: environment)
                let status = try json(try await kiln.run(["status", "--json"], environment: environment).stdout)
                if (status["counts"] as? [String: Int])?["completed"] == 2 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let run = try json(try await kiln.run(["show", ids[0], "--tenant", "shop", "--json"], environment: environment).stdout)
            #expect(run["status"] as? String == "completed", "\(run)")
            #expect(run["review_state"] as? String == "pending")
            let output = try #require(run["output"] as? [String: Any])
            #expect((output["json"] as? [String: Any])?["title"] is String, "the output holds the JSON value")

            // An edit must satisfy the schema; a valid one is kept beside the original.
            let badEdit = try await kiln.run(
                ["review", ids[0], "edit", "--tenant", "shop", "--by", "editor@shop", "--json", #"{"title": "Desk"}"#],
                environment: environment)
            #expect(badEdit.status != 0)
            #expect(badEdit.stderr.contains("$.bullets"), "\(badEdit.stderr)")
            let edit = try await kiln.run(
                [
                    "review", ids[0], "edit", "--tenant", "shop", "--by", "editor@shop", "--json",
                    #"{"title": "Walnut desk", "bullets": ["Solid walnut"]}"#,
                ], environment: environment)
            #expect(edit.status == 0, "\(edit.stderr)")
            #expect(edit.stdout.contains("edited by editor@shop"))
            let again = try await kiln.run(["review", ids[0], "accept", "--tenant", "shop"], environment: environment)
            #expect(again.status != 0)
            #expect(again.stderr.contains("a review decision is final"), "\(again.stderr)")

            let discard = try await kiln.run(
                ["review", ids[1], "discard", "--tenant", "shop", "--by", "lead@shop"], environment: environment)
            #expect(discard.status == 0, "\(discard.stderr)")
            let shown = try await kiln.run(["displayed", ids[0], "--tenant", "shop", "--by", "customer:9"], environment: environment)
            #expect(shown.status == 0, "\(shown.stderr)")

            let events = try #require(
                JSONSerialization.jsonObject(
                    with: Data(try await kiln.run(["events", ids[0], "--tenant", "shop", "--json"], environment: environment).stdout.utf8))
                    as? [[String: Any]])
            let marks = events.filter { ["reviewed", "displayed"].contains($0["kind"] as? String) }
            #expect(marks.map { $0["actor"] as? String } == ["editor@shop", "customer:9"])
            let reviewed = try json(try await kiln.run(["show", ids[0], "--tenant", "shop", "--json"], environment: environment).stdout)
            #expect((reviewed["reviewed_output"] as? [String: Any])?["json"] != nil)
            #expect(((reviewed["output"] as? [String: Any])?["json"] as? [String: Any])?["title"] as? String != "Walnut desk")
        }
    }
}
