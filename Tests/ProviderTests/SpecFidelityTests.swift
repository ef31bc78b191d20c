import Foundation
import KilnDomain
import KilnProvider
import KilnSimulator
import KilnTestSupport
import Testing

/// Every kind of simulator answer, and every create body the client sends, validated
/// against the official OpenAPI description in `reference/`.
@Suite("Spec fidelity", .serialized)
struct SpecFidelityTests {
    @Test func simulatorAnswersAndClientBodiesValidateAgainstTheSpec() async throws {
        let python = try testPython()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-spec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let simulator = quickSimulator {
            $0.recordCreateBodies = true
            $0.apiKey = "sk-test-key"
            $0.retention = 0
        }
        try await simulator.withRunning { base in
            let auth = ["Authorization": "Bearer sk-test-key"]
            func save(_ name: String, _ data: Data) throws {
                try data.write(to: directory.appendingPathComponent("\(name).json"))
            }
            func create(_ input: String, window: String? = nil) async throws -> (Int, Data) {
                let options = window.map { #","background_options":{"completion_window":"\#($0)"}"# } ?? ""
                return try await rawRequest(
                    .POST, base + "/responses",
                    body: #"{"model":"gpt-5-mini","input":"\#(input)","background":true,"max_output_tokens":200\#(options)}"#, headers: auth
                )
            }
            func id(_ data: Data) throws -> String {
                try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["id"] as? String)
            }
            // queued
            let (status, queued) = try await create("Doc [sim:queue=0.3] [sim:generation=0.3]")
            #expect(status == 200)
            try save("Response__queued", queued)
            try await Task.sleep(for: .milliseconds(400))
            try save("Response__in_progress", try await rawRequest(.GET, base + "/responses/\(try id(queued))", headers: auth).1)
            for (name, directive) in [
                ("completed", ""), ("failed", "[sim:fail]"), ("incomplete", "[sim:incomplete]"), ("refusal", "[sim:refuse]"),
            ] {
                let (_, made) = try await create(
                    "Doc \(directive) [sim:queue=0] [sim:generation=0.05]", window: name == "completed" ? "2h" : nil)
                try await Task.sleep(for: .milliseconds(name == "completed" ? 50 : 150))
                var body = try await rawRequest(.GET, base + "/responses/\(try id(made))", headers: auth).1
                if name == "completed" {  // a 2h window may wait in the queue; wait it out
                    for _ in 0..<100 where !String(decoding: body, as: UTF8.self).contains("\"completed\"") {
                        try await Task.sleep(for: .milliseconds(100))
                        body = try await rawRequest(.GET, base + "/responses/\(try id(made))", headers: auth).1
                    }
                }
                #expect(String(decoding: body, as: UTF8.self).contains("\"status\":\"\(name == "refusal" ? "completed" : name)\""))
                try save("Response__\(name)", body)
            }
            let (_, running) = try await create("Doc [sim:generation=30]")
            try save("Response__cancelled", try await rawRequest(.POST, base + "/responses/\(try id(running))/cancel", headers: auth).1)
            let (notFound, missing) = try await rawRequest(.GET, base + "/responses/resp_missing", headers: auth)
            #expect(notFound == 404)
            try save("ErrorResponse__404", missing)
            let (unauthorized, wrongKey) = try await rawRequest(
                .GET, base + "/responses/resp_x", headers: ["Authorization": "Bearer sk-wrong"])
            #expect(unauthorized == 401)
            try save("ErrorResponse__401", wrongKey)
            let (badRequest, tooFew) = try await rawRequest(
                .POST, base + "/responses", body: #"{"model":"m","input":"x","max_output_tokens":5}"#, headers: auth)
            #expect(badRequest == 400)
            try save("ErrorResponse__400", tooFew)
            simulator.inject([.rateLimited, .serverError])
            let (limited, rateBody) = try await rawRequest(.GET, base + "/responses/resp_x", headers: auth)
            #expect(limited == 429)
            try save("ErrorResponse__429", rateBody)
            let (serverError, serverBody) = try await rawRequest(.GET, base + "/responses/resp_x", headers: auth)
            #expect(serverError == 500)
            try save("ErrorResponse__500", serverBody)

            // What Kiln's client sends.
            let client = makeClient(base, key: "sk-test-key")
            let bodies: ArraySlice<Data> = try await withShutdown([client.shutdown]) {
                _ = try await client.create(request())
                _ = try await client.create(request(window: .eightHours))
                let bodies = simulator.recordedCreateBodies.suffix(2)
                // A declared feature's request: messages the app built, and strict Structured Outputs.
                let card = try DeclaredFeature(
                    name: "product_card",
                    declaration: [
                        "prompt_version": "product_card/v1",
                        "output_schema": [
                            "type": "object", "additionalProperties": false, "required": ["title", "tags"],
                            "properties": ["title": ["type": "string"], "tags": ["type": "array", "items": ["type": "string"]]],
                        ],
                    ], defaults: RunPolicy())
                let generation = try card.request(
                    for: [
                        "instructions": "Write a product card.",
                        "input": [
                            ["role": "developer", "content": "Be factual."],
                            ["role": "user", "content": "A camera [sim:queue=0] [sim:generation=0.05]"],
                        ],
                    ], policy: RunPolicy(maxOutputTokens: 300))
                let structured = try await client.create(
                    ProviderRequest(generation: generation, metadata: ProviderRequest.metadata(run: RunID("run_spec_card"), attempt: 1)))
                try save("CreateResponse__kiln_client_structured", try #require(simulator.recordedCreateBodies.last))
                let finished = try await waitForTerminal(client, structured.id)
                #expect(finished.status == .completed)
                #expect(try card.outputSchema?.violations(of: JSONValue.parse(finished.outputText, what: "output")) == [])
                try save(
                    "Response__structured",
                    try await rawRequest(.GET, base + "/responses/\(structured.id.rawValue)", headers: auth).1)
                return bodies
            }
            #expect(bodies.count == 2)
            for (index, body) in bodies.enumerated() { try save("CreateResponse__kiln_client_\(index)", body) }
            let sent = try #require(bodies.last.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] })
            #expect(sent["background"] as? Bool == true)
            #expect(sent["store"] as? Bool == true)
            #expect((sent["metadata"] as? [String: String])?["kiln_attempt"] == "1")
            #expect((sent["background_options"] as? [String: String])?["completion_window"] == "8h")
            let plain = try #require(bodies.first.flatMap { try JSONSerialization.jsonObject(with: $0) as? [String: Any] })
            #expect(plain["background_options"] == nil, "no window unless the policy asks for one")
        }
        let (status, output) = try await runCommand(
            python,
            [
                repositoryRoot.appendingPathComponent("scripts/spec_check.py").path,
                repositoryRoot.appendingPathComponent("reference/openai-openapi-responses.yml").path, directory.path,
            ])
        #expect(status == 0, "\(output)")
        #expect(output.contains("16 passed, 0 failed"), "\(output)")
    }

    @Test func theOfficialPythonSDKRoundTripsAgainstTheSimulator() async throws {
        let python = try testPython()
        let simulator = quickSimulator()
        try await simulator.withRunning { base in
            let script = repositoryRoot.appendingPathComponent("scripts/sdk_roundtrip.py").path
            let (status, output) = try await runCommand(python, [script, base])
            #expect(status == 0, "\(output)")
            #expect(output.contains("cancel twice: ok"), "\(output)")
        }
    }
}
