import AsyncHTTPClient
import Foundation
import KilnDomain
import KilnProvider
import KilnSimulator
import KilnTestSupport
import Logging
import NIOCore
import NIOHTTP1

/// The repository root, for scripts and the reference spec.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A fast simulator: short queue and generation, no faults, unless changed.
func quickSimulator(_ change: (inout SimulatorConfiguration) -> Void = { _ in }) -> Simulator {
    var configuration = SimulatorConfiguration()
    configuration.queueWaitMin = 0.05
    configuration.queueWaitMax = 0.1
    configuration.generationMedian = 0.2
    configuration.generationSigma = 0.1
    change(&configuration)
    return Simulator(configuration: configuration)
}

func makeClient(_ baseURL: String, key: String = "sk-test-0123456789abcdefghijklmnop", maxRetries: Int = 2) -> HTTPResponsesClient {
    var settings = ProviderSettings()
    settings.baseURL = baseURL
    // A loaded CI machine once answered a create after 5 s (a timeout: an ambiguous send).
    settings.requestTimeoutSeconds = 15
    return HTTPResponsesClient(settings: settings, apiKey: APIKey(key), logger: Logger(label: "test"), maxRetries: maxRetries)
}

func request(
    _ text: String = "A long report about revenue.", maxOutputTokens: Int = 500, window: RunPolicy.CompletionWindow? = nil
) -> ProviderRequest {
    ProviderRequest(
        generation: GenerationRequest(
            model: "gpt-5-mini", instructions: "Summarize.", input: .text(text), maxOutputTokens: maxOutputTokens,
            completionWindow: window),
        metadata: ProviderRequest.metadata(run: RunID("run_test\(UUID().uuidString.prefix(8))"), attempt: 1))
}

/// Retrieves until the response is terminal (bounded).
func waitForTerminal(_ client: HTTPResponsesClient, _ id: ResponseID) async throws -> ProviderResponse {
    for _ in 0..<200 {
        let response = try await client.retrieve(id)
        if response.status.isTerminal { return response }
        try await Task.sleep(for: .milliseconds(25))
    }
    throw ProviderError(kind: .permanent, code: "test_timeout", message: "no terminal status")
}

/// A raw HTTP exchange, to see the exact bytes a server sends.
func rawRequest(_ method: HTTPMethod, _ url: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, Data) {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let buffer = try await response.body.collect(upTo: 1 << 24)
    return (Int(response.status.code), Data(buffer.readableBytesView))
}

/// The Python with jsonschema, PyYAML and openai that `scripts/test` prepares.
func testPython() throws -> String {
    guard let python = ProcessInfo.processInfo.environment["KILN_TEST_PYTHON"], FileManager.default.isExecutableFile(atPath: python) else {
        throw ProviderError(
            kind: .permanent, code: "no_test_python",
            message: "KILN_TEST_PYTHON is not set: run the suite with scripts/test, which prepares it")
    }
    return python
}
