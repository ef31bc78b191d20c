import Foundation
import KilnDomain
import KilnProvider
import KilnSimulator
import KilnTestSupport
import Testing

/// The Files and Batch endpoints: the request bodies inside the client's batch lines
/// (`CreateResponse` of `reference/openai-openapi-responses.yml`) and the simulator's answers
/// (`reference/openai-openapi-batches-files.yml`) validated against the official OpenAPI
/// descriptions, the client reading them back, and the simulator's refusals of what the spec forbids.
@Suite("Spec fidelity: Files and Batch", .serialized)
struct BatchSpecTests {
    @Test func batchAndFileObjectsAndBatchLinesValidateAgainstTheSpec() async throws {
        let python = try testPython()
        let batches = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-batch-spec-\(UUID().uuidString)")
        let lines = batches.appendingPathComponent("lines")
        try FileManager.default.createDirectory(at: lines, withIntermediateDirectories: true)
        let simulator = quickSimulator {
            $0.apiKey = "sk-test-key"
            $0.batchValidatingSeconds = 0.1
            $0.batchQueueWaitMax = 0.2
            $0.batchFinalizingSeconds = 0.1
            $0.batchCancellingSeconds = 0.1
        }
        try await simulator.withRunning { base in
            let auth = ["Authorization": "Bearer sk-test-key"]
            func save(_ directory: URL, _ name: String, _ data: Data) throws {
                try data.write(to: directory.appendingPathComponent("\(name).json"))
            }
            let client = makeClient(base, key: "sk-test-key")
            try await withShutdown([client.shutdown]) {
                var content = Data()
                for i in 0..<3 {
                    let line = try client.batchLine(
                        customID: "run_\(i)",
                        request: ProviderRequest(
                            generation: request().generation, metadata: ProviderRequest.metadata(run: RunID("run_\(i)"), attempt: 1)))
                    content.append(line)
                    let object = try #require(try JSONSerialization.jsonObject(with: line) as? [String: Any])
                    #expect(object["method"] as? String == "POST" && object["url"] as? String == "/v1/responses")
                    let body = try #require(object["body"] as? [String: Any])
                    #expect(body["background"] as? Bool == false, "a batch's requests are not background responses")
                    try save(lines, "CreateResponse__line_\(i)", try JSONSerialization.data(withJSONObject: body))
                }
                let fileID = try await client.uploadBatchFile(content, filename: "kiln-spec.jsonl")
                try save(batches, "OpenAIFile__uploaded", try await rawRequest(.GET, base + "/files/\(fileID)", headers: auth).1)
                let created = try await client.createBatch(inputFileID: fileID, metadata: [KilnBatch.metadataKey: "kbatch_spec"])
                try save(batches, "Batch__validating", try await rawRequest(.GET, base + "/batches/\(created.id)", headers: auth).1)
                var finished = created
                for _ in 0..<100 where !finished.isTerminal {
                    try await Task.sleep(for: .milliseconds(50))
                    finished = try await client.retrieveBatch(created.id)
                }
                #expect(finished.status == "completed" && finished.completed == 3)
                try save(batches, "Batch__completed", try await rawRequest(.GET, base + "/batches/\(created.id)", headers: auth).1)
                let results = try await client.batchResults(fileID: try #require(finished.outputFileID))
                #expect(
                    results.count == 3
                        && results.values.allSatisfy { if case .response(let r) = $0 { r.status == .completed } else { false } })
                #expect(
                    try await client.findBatch(metadata: KilnBatch.metadataKey, value: "kbatch_spec", since: .distantPast)?.id == created.id
                )
                try save(batches, "ListBatchesResponse__all", try await rawRequest(.GET, base + "/batches?limit=10", headers: auth).1)

                // A batch cancelled while it runs.
                let again = try await client.uploadBatchFile(content, filename: "kiln-spec-2.jsonl")
                let running = try await client.createBatch(inputFileID: again, metadata: [:])
                let cancelling = try await rawRequest(.POST, base + "/batches/\(running.id)/cancel", headers: auth).1
                try save(batches, "Batch__cancelling", cancelling)
                try await Task.sleep(for: .milliseconds(300))
                let cancelled = try await client.retrieveBatch(running.id)
                #expect(cancelled.status == "cancelled")
                try save(batches, "Batch__cancelled", try await rawRequest(.GET, base + "/batches/\(running.id)", headers: auth).1)
                try save(batches, "DeleteFileResponse__deleted", try await rawRequest(.DELETE, base + "/files/\(again)", headers: auth).1)

                // What the spec forbids is refused.
                let (window, _) = try await rawRequest(
                    .POST, base + "/batches", body: #"{"input_file_id":"\#(fileID)","endpoint":"/v1/responses","completion_window":"1h"}"#,
                    headers: auth)
                #expect(window == 400, "only 24h")
                let (missing, _) = try await rawRequest(
                    .POST, base + "/batches", body: #"{"input_file_id":"file-nope","endpoint":"/v1/responses","completion_window":"24h"}"#,
                    headers: auth)
                #expect(missing == 400, "an unknown file")
            }
        }
        for (spec, directory, count) in [
            ("reference/openai-openapi-batches-files.yml", batches, 7), ("reference/openai-openapi-responses.yml", lines, 3),
        ] {
            let (status, output) = try await runCommand(
                python,
                [
                    repositoryRoot.appendingPathComponent("scripts/spec_check.py").path, repositoryRoot.appendingPathComponent(spec).path,
                    directory.path,
                ])
            #expect(status == 0, "\(output)")
            #expect(output.contains("\(count) passed, 0 failed"), "\(output)")
        }
    }
}
