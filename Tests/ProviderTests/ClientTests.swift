import Foundation
import KilnDomain
import KilnSimulator
import KilnTestSupport
import Testing

@testable import KilnProvider

@Suite("The Responses API client")
struct ClientTests {
    @Test func createsRetrievesAndReadsTheOutput() async throws {
        try await quickSimulator().withRunning { base in
            let client = makeClient(base)
            try await withShutdown([client.shutdown]) {
                let sent = request("Revenue grew 12% while costs fell.")
                let created = try await client.create(sent)
                #expect(created.status == .queued)
                #expect(created.metadata == sent.metadata)
                let done = try await waitForTerminal(client, created.id)
                #expect(done.status == .completed)
                #expect(done.outputText.hasPrefix("Summary of a 6-word document"))
                #expect((done.usage?.totalTokens ?? 0) > 0)
                let cancelled = try await client.cancel(created.id)
                #expect(cancelled.status == .completed, "cancelling a finished response returns it unchanged")
                try await client.delete(created.id)
                await #expect(throws: ProviderError.self) { try await client.retrieve(created.id) }
            }
        }
    }

    @Test func decodingJoinsEveryTextPartAndSkipsWhatItDoesNotKnow() throws {
        let json = """
            {"id":"resp_1","object":"response","status":"completed","future_field":{"x":1},
             "output":[{"type":"reasoning","id":"rs_1","summary":[]},
                       {"type":"message","id":"m1","role":"assistant","status":"completed",
                        "content":[{"type":"output_text","text":"Hello, ","annotations":[]},{"type":"hologram"},
                                   {"type":"output_text","text":"world."}]},
                       {"type":"web_search_call","id":"ws"},
                       {"type":"message","id":"m2","role":"assistant","status":"completed",
                        "content":[{"type":"refusal","refusal":"No."},{"type":"output_text","text":" Bye."}]}],
             "usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7,"input_tokens_details":{"cached_tokens":1},"output_tokens_details":{"reasoning_tokens":2}},
             "incomplete_details":null,"error":null,"created_at":1700000000.5,"metadata":{"kiln_run_id":"run_1"}}
            """
        let response = try #require(ResponseDecoding.decode(Data(json.utf8)))
        #expect(response.outputText == "Hello, world. Bye.")
        #expect(response.refusal == "No.")
        #expect(response.usage == RunUsage(inputTokens: 3, outputTokens: 4, totalTokens: 7, cachedInputTokens: 1, reasoningTokens: 2))
        #expect(response.metadata["kiln_run_id"] == "run_1")
        #expect(ResponseDecoding.decode(Data(#"{"id":"resp_2","status":"thinking_hard"}"#.utf8))?.status.isTerminal == false)
        #expect(ResponseDecoding.decode(Data("{\"id\":\"resp_3\",\"sta".utf8)) == nil)
        #expect(
            ResponseDecoding.errorFields(Data(#"{"message":"gone","type":"invalid_request_error","code":null,"param":null}"#.utf8)).message
                == "gone")
    }

    @Test func retrieveAndCancelAreRetriedThroughTransientFaults() async throws {
        let simulator = quickSimulator()
        try await simulator.withRunning { base in
            let client = makeClient(base)
            try await withShutdown([client.shutdown]) {
                let created = try await client.create(request())
                simulator.inject([.serverError, .truncated])
                #expect(try await client.retrieve(created.id).id == created.id)
                simulator.inject([.unavailableHTML, .drop])
                #expect(try await client.cancel(created.id).id == created.id)
                simulator.inject([.serverError, .serverError, .serverError])
                await #expect { try await client.retrieve(created.id) } throws: { error in
                    (error as? ProviderError)?.kind == .retryable && (error as? ProviderError)?.httpStatus == 500
                }
            }
        }
    }

    @Test func aCreateIsNeverRetriedAndALostAnswerIsAmbiguous() async throws {
        let simulator = quickSimulator()
        try await simulator.withRunning { base in
            let client = makeClient(base)
            try await withShutdown([client.shutdown]) {
                for (fault, kind) in [
                    (SimulatorFault.serverError, ProviderError.Kind.retryable), (.unavailableHTML, .retryable),
                    (.rateLimited, .rateLimited),
                    (.drop, .ambiguous), (.truncated, .ambiguous),
                ] {
                    let before = simulator.statistics()["creates"] as? Int ?? 0
                    simulator.inject([fault])
                    do {
                        _ = try await client.create(request())
                        Issue.record("a create with fault \(fault) succeeded")
                    } catch let error as ProviderError {
                        #expect(error.kind == kind, "\(fault)")
                        if fault == .rateLimited { #expect(error.retryAfter == 1 || error.retryAfter == 0.25) }
                    }
                    let after = simulator.statistics()["creates"] as? Int ?? 0
                    let performed = fault == .drop || fault == .truncated
                    #expect(after - before == (performed ? 1 : 0), "\(fault): the client sent the create once and did not retry")
                }
            }
        }
    }

    @Test func permanentErrorsAreNotRetriedAndNameTheirCause() async throws {
        let simulator = quickSimulator { $0.apiKey = "sk-right-key" }
        try await simulator.withRunning { base in
            let wrong = makeClient(base, key: "sk-test-WRONG-0123456789abcdef")
            try await withShutdown([wrong.shutdown]) {
                do {
                    _ = try await wrong.create(request())
                    Issue.record("a wrong key was accepted")
                } catch let error as ProviderError {
                    #expect(error.kind == .permanent)
                    #expect(error.httpStatus == 401)
                    #expect(error.code == "invalid_api_key")
                    #expect(!error.description.contains("sk-test-WRONG"), "the key never appears in an error")
                }
            }
            let right = makeClient(base, key: "sk-right-key")
            await #expect { try await right.create(request(maxOutputTokens: 5)) } throws: { error in
                (error as? ProviderError)?.kind == .permanent && (error as? ProviderError)?.code == "integer_below_min_value"
            }
            await #expect { try await right.retrieve(ResponseID("resp_nope")) } throws: { error in
                (error as? ProviderError)?.kind == .notFound
            }
            await #expect { try await right.retrieve(ResponseID("../admin")) } throws: { error in
                (error as? ProviderError)?.code == "invalid_response_id"
            }
            try await right.shutdown()
        }
    }

    @Test func aRefusedConnectionIsRetryableBecauseNothingWasSent() async throws {
        let client = makeClient("http://127.0.0.1:9/v1")  // discard port: nothing listens
        do {
            _ = try await client.create(request())
            Issue.record("a create to a closed port succeeded")
        } catch {
            #expect(error.kind == .retryable)
            #expect(error.code == "connection_refused")
        }
        try await client.shutdown()
    }

    @Test func theAPIKeyPrintsRedacted() {
        let key = APIKey("sk-live-secret")
        #expect("\(key)" == "<redacted>")
        #expect(String(reflecting: key) == "<redacted>")
    }
}

@Suite("Retry rules")
struct RetryRuleTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func waitHintsAreReadAsTheSDKReadsThem() {
        #expect(ErrorClassification.retryAfter(retryAfterMs: "250", retryAfter: "7", now: now) == 0.25)
        #expect(ErrorClassification.retryAfter(retryAfterMs: nil, retryAfter: "7", now: now) == 7)
        #expect(ErrorClassification.retryAfter(retryAfterMs: nil, retryAfter: "1.5", now: now) == 1.5)
        #expect(
            ErrorClassification.retryAfter(
                retryAfterMs: nil, retryAfter: "Fri, 15 Jan 2027 08:00:10 GMT", now: Date(timeIntervalSince1970: 1_800_000_000)) == 10)
        #expect(ErrorClassification.retryAfter(retryAfterMs: "soon", retryAfter: "later", now: now) == nil)
        #expect(ErrorClassification.retryAfter(retryAfterMs: nil, retryAfter: "0", now: now) == nil)
    }

    static let statuses: [(Int, String?, ProviderError.Kind)] = [
        (400, nil, .permanent), (401, nil, .permanent), (403, nil, .permanent), (404, nil, .notFound),
        (408, nil, .retryable), (409, nil, .retryable), (422, nil, .permanent), (429, nil, .rateLimited),
        (500, nil, .retryable), (502, nil, .retryable), (503, nil, .retryable), (504, nil, .retryable),
        (400, "true", .retryable), (500, "false", .permanent), (429, "false", .permanent), (404, "true", .notFound),
    ]

    @Test(arguments: statuses)
    func statusesAreClassified(status: Int, shouldRetry: String?, kind: ProviderError.Kind) {
        #expect(ErrorClassification.kind(status: status, shouldRetry: shouldRetry) == kind)
    }

    @Test func theDefaultBackOffFollowsTheSDK() {
        #expect(ErrorClassification.backoff(retry: 0, random: 0) == 0.5)
        #expect(ErrorClassification.backoff(retry: 1, random: 0.999) > 0.75)
        #expect(ErrorClassification.backoff(retry: 10, random: 0) == 8)
    }
}
