import Foundation
import Testing

@Suite("kiln: runs in and out from the shell")
struct RunCommandTests {
    let input = #"{"text":"Quarterly report: revenue grew 12%."}"#

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func enqueueShowListAndStatus() async throws {
        let kiln = try KilnProcess()
        let enqueued = try await kiln.run([
            "enqueue", "document_summary", "--tenant", "acme", "--subject", "document:42", "--input", input, "--json",
        ])
        #expect(enqueued.status == 0, "\(enqueued.stderr)")
        let run = try json(enqueued.stdout)
        let id = try #require(run["id"] as? String)
        #expect(id.hasPrefix("run_"))
        #expect(run["status"] as? String == "queued")
        #expect(run["subject_type"] as? String == "document")
        #expect((run["input"] as? [String: Any])?["text"] as? String == "Quarterly report: revenue grew 12%.")
        #expect((run["policy"] as? [String: Any])?["max_attempts"] as? Int == 3)

        let shown = try await kiln.run(["show", id, "--tenant", "acme", "--json"])
        #expect(shown.status == 0)
        #expect(try json(shown.stdout)["id"] as? String == id)

        let listed = try await kiln.run(["list", "--tenant", "acme", "--json"])
        let array = try #require(JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(array.map { $0["id"] as? String } == [id])

        let status = try await kiln.run(["status", "--json"])
        let counts = try #require(try json(status.stdout)["counts"] as? [String: Int])
        #expect(counts["queued"] == 1)
        #expect(counts["completed"] == 0)
    }

    @Test func theSameIdempotencyKeyGivesTheSameRun() async throws {
        let kiln = try KilnProcess()
        let first = try await kiln.run([
            "enqueue", "document_summary", "--tenant", "acme", "--input", input, "--idempotency-key", "click-1",
        ])
        let second = try await kiln.run([
            "enqueue", "document_summary", "--tenant", "acme", "--input", input, "--idempotency-key", "click-1",
        ])
        #expect(first.status == 0 && second.status == 0)
        #expect(first.stdout == second.stdout)
        let listed = try await kiln.run(["list", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [Any])?.count == 1)
    }

    @Test func anotherTenantsRunIsNotFound() async throws {
        let kiln = try KilnProcess()
        let id = try await kiln.run(["enqueue", "document_summary", "--tenant", "acme", "--input", input]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let shown = try await kiln.run(["show", id, "--tenant", "globex"])
        #expect(shown.status != 0)
        #expect(shown.stderr.contains("not found for tenant globex"))
        #expect(shown.stdout.isEmpty)
    }

    @Test func cancellingAQueuedRunEndsIt() async throws {
        let kiln = try KilnProcess()
        let id = try await kiln.run(["enqueue", "document_summary", "--tenant", "acme", "--input", input]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let cancelled = try await kiln.run(["cancel", id, "--tenant", "acme"])
        #expect(cancelled.status == 0)
        #expect(cancelled.stdout.contains("cancelled"))
        let shown = try json(try await kiln.run(["show", id, "--tenant", "acme", "--json"]).stdout)
        #expect(shown["status"] as? String == "cancelled")
        let events = try await kiln.run(["events", id, "--tenant", "acme"])
        #expect(events.stdout.contains("queued → cancelled"))
    }

    @Test func everySubcommandHasHelp() async throws {
        let kiln = try KilnProcess()
        for command in ["migrate", "enqueue", "show", "list", "cancel", "status", "events"] {
            let help = try await kiln.run([command, "--help"], database: false)
            #expect(help.status == 0, "\(command)")
            #expect(help.stdout.contains("--database"), "\(command)")
        }
    }
}

@Suite("config/kiln.json")
struct DefaultConfigurationTests {
    @Test func theDocumentedDefaultsLoad() async throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let kiln = try KilnProcess()
        let result = try await kiln.run(["status", "--config", repository.appendingPathComponent("config/kiln.json").path])
        #expect(result.status == 0, "\(result.stderr)")
    }
}
