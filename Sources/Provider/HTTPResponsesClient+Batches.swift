import Foundation
import KilnDomain
import NIOHTTP1

/// The Files and Batch endpoints (``BatchClient``): the batch lane's file of `/v1/responses`
/// requests, its batch, and the output and error files read back.
extension HTTPResponsesClient: BatchClient {
    /// The largest output or error file read back: 50,000 responses of up to ~10 KB each.
    static let maxResultFileBytes = 1 << 30
    /// Input files expire by themselves after 3 days (a file a killed process uploaded and
    /// never recorded is not kept for the default 30): a batch runs 24 h at most.
    static let inputFileExpirySeconds = 259_200
    /// The whole of a file upload or download (up to 200 MB up, 1 GB down): far longer than a
    /// JSON call's `provider.request_timeout_seconds` (the read timeout between bytes still applies).
    static let fileTransferSeconds = 1800.0

    public func batchLine(customID: String, request: ProviderRequest) throws(ProviderError) -> Data {
        var request = request
        request.background = false  // a batch is its own background: the body is a plain create
        struct Line: Encodable {
            let customID: String
            let method = "POST"
            let url = "/v1/responses"
            let body: CreateRequestBody
            enum CodingKeys: String, CodingKey {
                case customID = "custom_id"
                case method, url, body
            }
        }
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var data = try encoder.encode(Line(customID: customID, body: CreateRequestBody(request)))
            data.append(UInt8(ascii: "\n"))
            return data
        } catch {
            throw ProviderError(kind: .permanent, code: "invalid_request", message: "the batch line could not be encoded")
        }
    }

    public func uploadBatchFile(_ content: Data, filename: String) async throws(ProviderError) -> String {
        let boundary = "kiln-\(UUID().uuidString)"
        var body = Data()
        func field(_ name: String, _ value: String) {
            body.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        field("purpose", "batch")
        field("expires_after[anchor]", "created_at")
        field("expires_after[seconds]", "\(Self.inputFileExpirySeconds)")
        body.append(
            Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\nContent-Type: application/jsonl\r\n\r\n"
                    .utf8))
        body.append(content)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        // Not retried inside: a lost answer leaves a file behind, which expires by itself.
        let answer = try await send(
            .POST, "/files", body: body, operation: .fileUpload, contentType: "multipart/form-data; boundary=\(boundary)",
            timeoutSeconds: Self.fileTransferSeconds)
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: answer.body), let id = document["id"]?.stringValue else {
            throw ProviderError(
                kind: .retryable, httpStatus: answer.status, code: "invalid_body", message: "the upload's answer is not a File object")
        }
        return id
    }

    public func createBatch(inputFileID: String, metadata: [String: String]) async throws(ProviderError) -> ProviderBatch {
        let request: JSONValue = .object([
            "input_file_id": .string(inputFileID), "endpoint": "/v1/responses", "completion_window": "24h",
            "metadata": .object(metadata.mapValues(JSONValue.string)),
        ])
        let answer = try await send(.POST, "/batches", body: Data(request.jsonText.utf8), operation: .batchCreate)
        return try Self.decodeBatch(answer)
    }

    public func retrieveBatch(_ id: String) async throws(ProviderError) -> ProviderBatch {
        try await withRetries { () async throws(ProviderError) -> ProviderBatch in
            try Self.decodeBatch(try await send(.GET, "/batches/\(try Self.pathComponent(id))", body: nil, operation: .batchRetrieve))
        }
    }

    public func cancelBatch(_ id: String) async throws(ProviderError) -> ProviderBatch {
        try await withRetries { () async throws(ProviderError) -> ProviderBatch in
            try Self.decodeBatch(try await send(.POST, "/batches/\(try Self.pathComponent(id))/cancel", body: nil, operation: .batchCancel))
        }
    }

    public func findBatch(metadata key: String, value: String, since: Date) async throws(ProviderError) -> ProviderBatch? {
        var after: String?
        for _ in 0..<20 {
            let query = "/batches?limit=100" + (after.map { "&after=\($0)" } ?? "")
            let answer = try await withRetries { () async throws(ProviderError) -> Answer in
                try await send(.GET, query, body: nil, operation: .batchList)
            }
            guard let document = try? JSONDecoder().decode(JSONValue.self, from: answer.body), case .array(let items)? = document["data"]
            else {
                throw ProviderError(
                    kind: .retryable, httpStatus: answer.status, code: "invalid_body", message: "the batch list is not a list")
            }
            var older = false
            for item in items {
                guard let batch = Self.batch(from: item) else { continue }
                if batch.metadata[key] == value { return batch }
                if batch.createdAt < since { older = true }
            }
            guard document["has_more"] == .bool(true), !older, let last = items.last?["id"]?.stringValue else { return nil }
            after = try Self.pathComponent(last)
        }
        return nil
    }

    public func batchResults(fileID: String) async throws(ProviderError) -> [String: BatchResult] {
        let answer = try await withRetries { () async throws(ProviderError) -> Answer in
            try await send(
                .GET, "/files/\(try Self.pathComponent(fileID))/content", body: nil, operation: .fileContent,
                maxAnswerBytes: Self.maxResultFileBytes, timeoutSeconds: Self.fileTransferSeconds)
        }
        return Self.results(in: answer.body)
    }

    public func deleteFile(_ id: String) async throws(ProviderError) {
        try await withRetries { () async throws(ProviderError) -> Void in
            _ = try await send(.DELETE, "/files/\(try Self.pathComponent(id))", body: nil, operation: .fileDelete)
        }
    }

    // MARK: - Reading answers

    /// The lines of an output or error file (`{"id", "custom_id", "response": {"status_code",
    /// "request_id", "body"}, "error": {"code", "message"}}`), by `custom_id`; unreadable
    /// lines are skipped (their runs are treated as not run).
    static func results(in content: Data) -> [String: BatchResult] {
        var results: [String: BatchResult] = [:]
        for line in content.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            guard let document = try? JSONDecoder().decode(JSONValue.self, from: Data(line)),
                let customID = document["custom_id"]?.stringValue
            else { continue }
            if let response = document["response"], response != .null {
                let status: Int? = if case .number(let n)? = response["status_code"] { Int(n) } else { nil }
                let body = response["body"].map { Data($0.jsonText.utf8) } ?? Data()
                if let status, (200..<300).contains(status), let decoded = ResponseDecoding.decode(body) {
                    results[customID] = .response(decoded)
                } else {
                    let (code, message) = ResponseDecoding.errorFields(body)
                    results[customID] = .error(
                        status: status, code: code ?? "http_\(status ?? 0)", message: message ?? "HTTP \(status ?? 0) in the batch")
                }
            } else if let error = document["error"], error != .null {
                results[customID] = .error(
                    status: nil, code: error["code"]?.stringValue ?? "batch_error", message: error["message"]?.stringValue ?? "")
            }
        }
        return results
    }

    static func decodeBatch(_ answer: Answer) throws(ProviderError) -> ProviderBatch {
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: answer.body), let batch = batch(from: document) else {
            throw ProviderError(
                kind: .retryable, httpStatus: answer.status, code: "invalid_body", message: "the answer is not a Batch object")
        }
        return batch
    }

    static func batch(from document: JSONValue) -> ProviderBatch? {
        guard let id = document["id"]?.stringValue, let status = document["status"]?.stringValue else { return nil }
        func int(_ value: JSONValue?) -> Int? {
            if case .number(let n)? = value { return Int(n) }
            return nil
        }
        var errors: [String] = []
        if case .array(let items)? = document["errors"]?["data"] {
            errors = items.map { item in
                let line = int(item["line"]).map { " (line \($0))" } ?? ""
                return "\(item["code"]?.stringValue ?? "error"): \(item["message"]?.stringValue ?? "")\(line)"
            }
        }
        var metadata: [String: String] = [:]
        if case .object(let values)? = document["metadata"] { metadata = values.compactMapValues(\.stringValue) }
        return ProviderBatch(
            id: id, status: status, inputFileID: document["input_file_id"]?.stringValue ?? "",
            outputFileID: document["output_file_id"]?.stringValue, errorFileID: document["error_file_id"]?.stringValue,
            createdAt: Date(timeIntervalSince1970: Double(int(document["created_at"]) ?? 0)), metadata: metadata,
            total: int(document["request_counts"]?["total"]), completed: int(document["request_counts"]?["completed"]),
            failed: int(document["request_counts"]?["failed"]), errors: errors)
    }

    static func pathComponent(_ id: String) throws(ProviderError) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard !id.isEmpty, id.unicodeScalars.allSatisfy(allowed.contains) else {
            throw ProviderError(kind: .permanent, code: "invalid_id", message: "id \"\(id.prefix(80))\" has characters an id cannot have")
        }
        return id
    }
}
