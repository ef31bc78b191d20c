import AsyncHTTPClient
import Foundation
import KilnDomain
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix

/// ``ResponsesClient`` over HTTP with AsyncHTTPClient: OpenAI, Azure OpenAI's v1 path, vLLM,
/// the simulator — any server that speaks the Responses API.
///
/// A create is sent once and never retried here (see ``ResponsesClient``); retrieve, cancel
/// and delete are retried up to `maxRetries` times on retryable errors, waiting as the
/// server asked (when it asked for at most `maxRetryWait`) or with the SDK's back-off.
public final class HTTPResponsesClient: ResponsesClient {
    public let baseURL: String
    private let settings: ProviderSettings
    private let apiKey: APIKey
    private let http: HTTPClient
    private let logger: Logger
    private let maxRetries: Int
    private let maxRetryWait: Double

    public init(settings: ProviderSettings, apiKey: APIKey, logger: Logger, maxRetries: Int = 2, maxRetryWait: Double = 20) {
        var base = settings.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.settings = settings
        self.apiKey = apiKey
        self.logger = logger
        self.maxRetries = maxRetries
        self.maxRetryWait = maxRetryWait
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(
            connect: .milliseconds(Int64(settings.connectTimeoutSeconds * 1000)),
            read: .milliseconds(Int64(settings.requestTimeoutSeconds * 1000)))
        // Sized by the caller's concurrency: the default pool of 8 times out under load.
        configuration.connectionPool = .init(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: settings.maxConnections)
        configuration.decompression = .disabled
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the connections; call once when done.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    public func create(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResponse {
        let body: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            body = try encoder.encode(CreateRequestBody(request))
        } catch {
            throw ProviderError(kind: .permanent, code: "invalid_request", message: "the create body could not be encoded")
        }
        let answer = try await send(.POST, "/responses", body: body, operation: .create)
        return try decodeResponse(answer, operation: .create)
    }

    public func retrieve(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse {
        try await withRetries { () async throws(ProviderError) -> ProviderResponse in
            let answer = try await send(.GET, "/responses/\(try pathComponent(id))", body: nil, operation: .retrieve)
            return try decodeResponse(answer, operation: .retrieve)
        }
    }

    public func cancel(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse {
        try await withRetries { () async throws(ProviderError) -> ProviderResponse in
            let answer = try await send(.POST, "/responses/\(try pathComponent(id))/cancel", body: nil, operation: .cancel)
            return try decodeResponse(answer, operation: .cancel)
        }
    }

    public func delete(_ id: ResponseID) async throws(ProviderError) {
        try await withRetries { () async throws(ProviderError) -> Void in
            _ = try await send(.DELETE, "/responses/\(try pathComponent(id))", body: nil, operation: .delete)
        }
    }

    // MARK: - One HTTP exchange

    enum Operation: String {
        case create, retrieve, cancel, delete
        case fileUpload = "file_upload"
        case fileContent = "file_content"
        case fileDelete = "file_delete"
        case batchCreate = "batch_create"
        case batchRetrieve = "batch_retrieve"
        case batchCancel = "batch_cancel"
        case batchList = "batch_list"
    }

    struct Answer {
        let status: Int
        let headers: HTTPHeaders
        let body: Data
    }

    func send(
        _ method: HTTPMethod, _ path: String, body: Data?, operation: Operation, contentType: String = "application/json",
        maxAnswerBytes: Int = 16 << 20, timeoutSeconds: Double? = nil
    ) async throws(ProviderError) -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        switch settings.auth {
        case .bearer: request.headers.add(name: "Authorization", value: "Bearer \(apiKey.secret)")
        case .azureAPIKey: request.headers.add(name: "api-key", value: apiKey.secret)
        }
        if let organization = settings.organization { request.headers.add(name: "OpenAI-Organization", value: organization) }
        if let project = settings.project { request.headers.add(name: "OpenAI-Project", value: project) }
        request.headers.add(name: "User-Agent", value: "kiln/0.1")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let answer: Answer
        let started = ContinuousClock.now
        do {
            let timeout = timeoutSeconds ?? settings.requestTimeoutSeconds
            let response = try await http.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            let buffer = try await response.body.collect(upTo: maxAnswerBytes)
            answer = Answer(status: Int(response.status.code), headers: response.headers, body: Data(buffer.readableBytesView))
        } catch {
            Self.count(operation, outcome: "transport", since: started)
            throw Self.transportError(error, operation: operation)
        }
        Self.count(operation, outcome: Self.outcome(status: answer.status), since: started)
        guard (200..<300).contains(answer.status) else { throw httpError(answer) }
        logger.debug(
            "provider answered",
            metadata: [
                LogKey.operation: "\(operation.rawValue)", LogKey.httpStatus: "\(answer.status)",
                LogKey.requestID: "\(answer.headers.first(name: "x-request-id") ?? "-")",
            ])
        return answer
    }

    private func decodeResponse(_ answer: Answer, operation: Operation) throws(ProviderError) -> ProviderResponse {
        guard let response = ResponseDecoding.decode(answer.body) else {
            // A 200 to a create means the provider made a response we cannot name.
            throw ProviderError(
                kind: operation == .create ? .ambiguous : .retryable, httpStatus: answer.status, code: "invalid_body",
                message: "the provider's answer is not a Response object", requestID: answer.headers.first(name: "x-request-id"))
        }
        return response
    }

    private func httpError(_ answer: Answer) -> ProviderError {
        let (code, message) = ResponseDecoding.errorFields(answer.body)
        let kind = ErrorClassification.kind(status: answer.status, shouldRetry: answer.headers.first(name: "x-should-retry"))
        return ProviderError(
            kind: kind, httpStatus: answer.status, code: apiKey.redacting(code ?? "http_\(answer.status)"),
            message: apiKey.redacting(message ?? "HTTP \(answer.status) without an error body"),
            retryAfter: ErrorClassification.retryAfter(
                retryAfterMs: answer.headers.first(name: "retry-after-ms"),
                retryAfter: answer.headers.first(name: "retry-after"), now: Date()),
            requestID: answer.headers.first(name: "x-request-id"))
    }

    /// A failure below HTTP: before the request left (retryable for every operation), or
    /// after (ambiguous for a create).
    static func transportError(_ error: any Error, operation: Operation) -> ProviderError {
        let neverSent: Bool
        var code = "connection_error"
        switch error {
        case let error as HTTPClientError where error == .connectTimeout || error == .getConnectionFromPoolTimeout:
            neverSent = true
            code = "connect_timeout"
        case let error as HTTPClientError where error == .readTimeout || error == .deadlineExceeded:
            neverSent = false
            code = "timeout"
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            neverSent = false
            code = "connection_closed"
        case is NIOConnectionError:
            neverSent = true
            code = "connection_refused"
        case let error as ChannelError:
            if case .connectTimeout = error {
                neverSent = true
                code = "connect_timeout"
            } else {
                neverSent = false
            }
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            neverSent = true
            code = "connection_refused"
        case is HTTPClientError, is NIOTooManyBytesError:
            neverSent = false
            code = "invalid_answer"
        default:
            neverSent = false
        }
        let kind: ProviderError.Kind = operation == .create && !neverSent ? .ambiguous : .retryable
        return ProviderError(
            kind: kind, code: code, message: "\(operation.rawValue) failed: \(code.replacingOccurrences(of: "_", with: " "))")
    }

    func withRetries<T>(_ call: () async throws(ProviderError) -> T) async throws(ProviderError) -> T {
        var retry = 0
        while true {
            do {
                return try await call()
            } catch {
                guard error.isRetryable || error.kind == .ambiguous, retry < maxRetries else { throw error }
                let wait = error.retryAfter ?? ErrorClassification.backoff(retry: retry, random: Double.random(in: 0..<1))
                guard wait <= maxRetryWait else { throw error }
                retry += 1
                do {
                    try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
                } catch {
                    throw ProviderError(kind: .retryable, code: "cancelled", message: "the call was cancelled")
                }
            }
        }
    }

    private func pathComponent(_ id: ResponseID) throws(ProviderError) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard !id.rawValue.isEmpty, id.rawValue.unicodeScalars.allSatisfy(allowed.contains) else {
            throw ProviderError(
                kind: .permanent, code: "invalid_response_id",
                message: "response id \"\(id.rawValue.prefix(80))\" has characters an id cannot have")
        }
        return id.rawValue
    }
}

extension HTTPResponsesClient {
    /// `kiln_provider_requests_total{operation, outcome}` and the request's duration.
    fileprivate static func count(_ operation: Operation, outcome: String, since started: ContinuousClock.Instant) {
        Counter(label: "kiln_provider_requests_total", dimensions: [("operation", operation.rawValue), ("outcome", outcome)]).increment()
        Timer(label: "kiln_provider_request_duration_seconds", dimensions: [("operation", operation.rawValue)])
            .record(duration: ContinuousClock.now - started)
    }

    /// `2xx`, `429`, `4xx`, `5xx`: what a status says, in few values.
    fileprivate static func outcome(status: Int) -> String {
        switch status {
        case 200..<300: "2xx"
        case 429: "429"
        case 400..<500: "4xx"
        default: "5xx"
        }
    }
}
