import Foundation
import KilnDomain
import Testing

@Suite("Reply drafts, end to end over HTTP")
struct ReplyDraftTests {
    @Test func anAgentsDraftIsWrittenByKilnAndAcceptedByTheAgent() async throws {
        try await DeskHarness.with { desk in
            let accepted = try await desk.draft(tone: "formal", idempotencyKey: "draft-T-1001-1")
            #expect(accepted.status == 202)
            let runID = try #require(accepted.json["run_id"]?.stringValue)
            #expect(accepted.json["status"]?.stringValue == "queued")
            #expect(accepted.headers["Location"].first == "/runs/\(runID)")

            let again = try await desk.draft(tone: "formal", idempotencyKey: "draft-T-1001-1")
            #expect(again.status == 202)
            #expect(again.json["run_id"]?.stringValue == runID, "the same Idempotency-Key gives the same run")

            let finished = try await desk.waitUntilFinished(runID)
            #expect(finished.status == 200)
            #expect(finished.json["status"]?.stringValue == "completed")
            #expect(finished.json["ticket_id"]?.stringValue == "T-1001")
            let output = try #require(finished.json["output_text"]?.stringValue)
            #expect(!output.isEmpty)
            #expect(finished.json["review_state"]?.stringValue == "pending", "support_reply requires review")

            let sent = try #require(desk.simulator.recordedCreateBodies.last)
            let body = try JSONDecoder().decode(JSONValue.self, from: sent)
            #expect(body["instructions"]?.stringValue?.contains("support team of Acme Widgets") == true)
            #expect(body["instructions"]?.stringValue?.contains("Tone: formal") == true)
            #expect(body["input"]?.arrayValue?.first?["role"]?.stringValue == "user")
            #expect(body["input"]?.arrayValue?.first?["content"]?.stringValue?.contains("Refund for a broken widget") == true)
            #expect(body["max_output_tokens"] == 800)

            let reviewed = try await desk.send(.POST, "/runs/\(runID)/review", token: "ada-token", json: #"{"decision": "accept"}"#)
            #expect(reviewed.status == 200)
            #expect(reviewed.json["review_state"]?.stringValue == "accepted")
            #expect(reviewed.json["reviewed_by"]?.stringValue == "ada")
            let events = try await desk.server.store.events(of: RunID(runID))
            #expect(events.contains { $0.kind == "reviewed" && $0.actor == "ada" })

            let twice = try await desk.send(.POST, "/runs/\(runID)/review", token: "ada-token", json: #"{"decision": "discard"}"#)
            #expect(twice.status == 409, "a review decision is final")
        }
    }

    @Test func eachUserSeesAndDoesOnlyWhatTheirRoleAndTenantAllow() async throws {
        try await DeskHarness.with { desk in
            // A long generation: the run is still in flight while the others try it.
            let accepted = try await desk.draft(message: "The lid does not close. [sim:generation=60]")
            let runID = try #require(accepted.json["run_id"]?.stringValue)

            #expect(try await desk.send(.GET, "/runs/\(runID)", token: nil).status == 401)
            #expect(try await desk.send(.GET, "/runs/\(runID)", token: "not-a-token").status == 401)
            #expect(try await desk.draft(token: "nobody").status == 401)

            #expect(try await desk.draft(token: "vic-token").status == 403, "a viewer may not start a draft")
            let seen = try await desk.send(.GET, "/runs/\(runID)", token: "vic-token")
            #expect(seen.status == 200, "a viewer reads drafts of their tenant")
            #expect(seen.json["run_id"]?.stringValue == runID)
            let viewerReview = try await desk.send(.POST, "/runs/\(runID)/review", token: "vic-token", json: #"{"decision": "accept"}"#)
            #expect(viewerReview.status == 403)

            #expect(try await desk.send(.GET, "/runs/\(runID)", token: "gus-token").status == 404, "another tenant's run is not there")
            let foreignReview = try await desk.send(.POST, "/runs/\(runID)/review", token: "gus-token", json: #"{"decision": "accept"}"#)
            #expect(foreignReview.status == 404)

            let early = try await desk.send(.POST, "/runs/\(runID)/review", token: "ada-token", json: #"{"decision": "accept"}"#)
            #expect(early.status == 409, "only a completed run can be reviewed")
        }
    }

    @Test func badInputIsRefusedWithTheKeyAtFault() async throws {
        try await DeskHarness.with { desk in
            let empty = try await desk.draft(message: "   ")
            #expect(empty.status == 400)
            #expect(empty.errorMessage.contains("customer_message"))

            let tone = try await desk.draft(tone: "rude")
            #expect(tone.status == 400)
            #expect(tone.errorMessage.contains("tone"))

            let notJSON = try await desk.send(.POST, "/tickets/T-1/reply-drafts", token: "ada-token", json: "subject=hi")
            #expect(notJSON.status == 400)
            #expect(notJSON.errorMessage.contains("\"message\": string"))

            let decision = try await desk.send(.POST, "/runs/run_x/review", token: "ada-token", json: #"{"decision": "maybe"}"#)
            #expect(decision.status == 400)
            #expect(decision.errorMessage.contains("decision"))

            #expect(try await desk.server.store.summary().counts.values.reduce(0, +) == 0, "nothing was enqueued")
        }
    }
}
