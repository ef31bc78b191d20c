import Foundation
import KilnDomain
import KilnPoller
import KilnPostgres
import KilnSubmitter
import KilnTestSupport
import KilnWorker
import Testing

/// Features an app declares in the configuration, worked end to end from rows an app in
/// another language inserted with SQL, on both backends: text, validated JSON, and every way
/// structured output can go wrong.
@Suite("Declared features, end to end", .serialized)
struct DeclaredFeatureTests {
    static let productCardSchema = """
        {"type": "object", "additionalProperties": false, "required": ["title", "price_cents", "tags", "condition"],
         "properties": {
           "title": {"type": "string"},
           "price_cents": {"type": "integer", "minimum": 0},
           "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
           "condition": {"type": "string", "enum": ["new", "used"]}}}
        """

    static func catalog() throws -> FeatureCatalog {
        let schema = try JSONValue.parse(productCardSchema, what: "schema")
        return try FeatureCatalog.builtIn.adding([
            try DeclaredFeature(
                name: "support_reply", declaration: ["prompt_version": "support_reply/v3", "policy": ["requires_review": true]],
                defaults: RunPolicy()),
            try DeclaredFeature(
                name: "product_card", declaration: ["prompt_version": "product_card/v2", "output_schema": schema],
                defaults: RunPolicy()),
        ])
    }

    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    @Test(arguments: Backend.allCases)
    func rowsInsertedBySQLAreWorkedAndTheirOutputChecked(backend: Backend) async throws {
        try await Harness.with { h in
            h.configuration.features = try Self.catalog()
            let store: any RunStore
            let execute: @Sendable (String) async throws -> Void
            switch backend {
            case .sqlite:
                store = h.store
                execute = { [h] sql in try await h.store.execute(sql) }
            case .postgres:
                let url = try await TestPostgres.freshDatabase()
                let postgres = try PostgresRunStore(url: url)
                try await postgres.migrate()
                store = postgres
                execute = { sql in try await TestPostgres.execute(sql, url: url) }
            }
            let rows: [(String, String, String)] = [
                (
                    "run_reply", "support_reply",
                    #"{"instructions": "You draft replies for Acme support.", "input": [{"role": "developer", "content": "Tone: friendly."}, {"role": "user", "content": "My order 1042 arrived broken."}]}"#
                ),
                ("run_card", "product_card", #"{"input": "Vintage camera, Leica M3, 1957, works."}"#),
                ("run_malformed", "product_card", #"{"input": "Camera [sim:malformed_json]"}"#),
                ("run_mismatch", "product_card", #"{"input": "Camera [sim:schema_mismatch]"}"#),
                ("run_refused", "product_card", #"{"input": "Camera [sim:refuse]"}"#),
                ("run_badrole", "support_reply", #"{"input": [{"role": "customer", "content": "Hi"}]}"#),
                ("run_extra", "product_card", #"{"input": "Camera", "sku": "A-1"}"#),
            ]
            for (id, feature, input) in rows {
                try await execute(
                    "INSERT INTO ai_runs (id, tenant_id, feature, input) VALUES ('\(id)', 'acme', '\(feature)', '\(input)')")
            }
            try await h.drain(store: store, timeout: 30)
            func run(_ id: String) async throws -> Run { try #require(try await store.run(RunID(id), tenant: nil)) }

            let reply = try await run("run_reply")
            #expect(reply.status == .completed)
            #expect(reply.promptVersion == "support_reply/v3")
            #expect(reply.reviewState == "pending", "the feature's policy asks for review")
            #expect(reply.output?.text.isEmpty == false)
            #expect(reply.output?.json == nil)

            let card = try await run("run_card")
            #expect(card.status == .completed)
            let json = try #require(card.output?.json)
            #expect(try Self.catalog().feature(named: "product_card").outputSchema?.violations(of: json) == [])
            #expect(card.output?.text == h.providerText(RunID("run_card")), "the provider's text, kept beside the value")

            let malformed = try await run("run_malformed")
            #expect(malformed.status == .failed)
            #expect(malformed.error?.code == "invalid_output")
            #expect(malformed.error?.message.contains("not valid JSON") == true)
            #expect(malformed.output?.text.hasPrefix("{\"answer\"") == true, "the raw text is kept for debugging")
            #expect(malformed.output?.json == nil)

            let mismatch = try await run("run_mismatch")
            #expect(mismatch.status == .failed)
            #expect(mismatch.error?.code == "invalid_output")
            #expect(mismatch.error?.message.contains("$.title") == true, "\(mismatch.error?.message ?? "")")

            let refused = try await run("run_refused")
            #expect(refused.status == .failed)
            #expect(refused.error?.code == "refusal")
            #expect(refused.output?.refusal == "I can't help with that.")

            for id in ["run_badrole", "run_extra"] {
                let bad = try await run(id)
                #expect(bad.status == .failed, "\(id)")
                #expect(bad.error?.code == "invalid_input", "\(id)")
                #expect(bad.attempt == 0, "refused before any provider call: \(id)")
            }
            #expect(try await run("run_badrole").error?.message.contains("input.input[0].role") == true)
            #expect(try await run("run_extra").error?.message.contains("\"sku\"") == true)

            for (id, _, _) in rows {
                let terminal = try await store.events(of: RunID(id)).filter { $0.toStatus.isTerminal }
                #expect(terminal.count == 1, "finalized once: \(id)")
                #expect(h.simulator.responses(ofRun: id).count <= 1, "sent at most once: \(id)")
            }
            #expect(h.simulator.responses(ofRun: "run_badrole").isEmpty)
            if let postgres = store as? PostgresRunStore { postgres.shutdown() }
        }
    }
}
