import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The Files and Batch endpoints (`/v1/files…`, `/v1/batches…`) as the official spec shapes
/// them, over the same simulated responses as background mode.
extension Simulator {
    func addBatchRoutes(to router: Router<BasicRequestContext>) {
        router.post("/v1/files") { request, _ in
            let body = try await request.body.collect(upTo: 512 << 20)
            return try await self.withFaults(request) { () async -> Response in self.uploadFile(request, body: body) }
        }
        router.get("/v1/files/:id") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                guard let file = self.state.file(id) else { return Self.fileNotFound(id) }
                return Self.json(Self.json(of: file))
            }
        }
        router.get("/v1/files/:id/content") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                guard let file = self.state.file(id) else { return Self.fileNotFound(id) }
                return Response(
                    status: .ok, headers: [.contentType: "application/octet-stream"],
                    body: .init(byteBuffer: ByteBuffer(bytes: file.content)))
            }
        }
        router.delete("/v1/files/:id") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                guard self.state.deleteFile(id) else { return Self.fileNotFound(id) }
                return Self.json(["id": id, "object": "file", "deleted": true])
            }
        }
        router.post("/v1/batches") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            return try await self.withFaults(request) { () async -> Response in self.createBatch(Data(body.readableBytesView)) }
        }
        router.get("/v1/batches") { request, _ in
            try await self.withFaults(request) { () async -> Response in
                let limit = min(100, max(1, Int(request.uri.queryParameters.get("limit") ?? "20") ?? 20))
                let page = self.state.listBatches(after: request.uri.queryParameters.get("after"), limit: limit, now: Self.now())
                let data = page.batches.map { self.state.json(of: $0, at: Self.now()) }
                return Self.json([
                    "object": "list", "data": data, "has_more": page.hasMore,
                    "first_id": page.batches.first.map { $0.id as Any } ?? NSNull(),
                    "last_id": page.batches.last.map { $0.id as Any } ?? NSNull(),
                ])
            }
        }
        router.get("/v1/batches/:id") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                guard let batch = self.state.batch(id, now: Self.now()) else { return Self.batchNotFound(id) }
                return Self.json(self.state.json(of: batch, at: Self.now()))
            }
        }
        router.post("/v1/batches/:id/cancel") { request, context in
            try await self.withFaults(request) { () async -> Response in
                let id = context.parameters.get("id") ?? ""
                guard let batch = self.state.cancelBatch(id, now: Self.now()) else { return Self.batchNotFound(id) }
                let answer = self.state.json(of: batch, at: Self.now())
                if answer["status"] as? String == "cancelling", let cancelling = batch.cancellingAt {
                    let configuration = self.state.configuration
                    self.webhooks.responseCancelled(
                        id, at: cancelling + configuration.batchCancellingSeconds / configuration.timeScale)
                }
                return Self.json(answer)
            }
        }
    }

    private func uploadFile(_ request: Request, body: ByteBuffer) -> Response {
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("multipart/form-data"),
            let boundary = contentType.components(separatedBy: "boundary=").last?.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")),
            !boundary.isEmpty
        else {
            return Self.error(400, "Uploads must be multipart/form-data.", type: "invalid_request_error", param: nil, code: nil)
        }
        let parts = Multipart.parse(Array(body.readableBytesView), boundary: boundary)
        let purposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]
        guard let purpose = parts.first(where: { $0.name == "purpose" }).map({ String(decoding: $0.content, as: UTF8.self) }) else {
            return Self.error(400, "Missing required parameter: 'purpose'.", type: "invalid_request_error", param: "purpose", code: nil)
        }
        guard purposes.contains(purpose) else {
            return Self.error(
                400, "Invalid value for 'purpose': expected one of \(purposes.joined(separator: ", ")).", type: "invalid_request_error",
                param: "purpose", code: "invalid_value")
        }
        guard let file = parts.first(where: { $0.name == "file" }), let filename = file.filename else {
            return Self.error(400, "Missing required parameter: 'file'.", type: "invalid_request_error", param: "file", code: nil)
        }
        var expiresAfter: Double?
        let anchor = parts.first(where: { $0.name == "expires_after[anchor]" }).map { String(decoding: $0.content, as: UTF8.self) }
        let seconds = parts.first(where: { $0.name == "expires_after[seconds]" }).map { String(decoding: $0.content, as: UTF8.self) }
        if anchor != nil || seconds != nil {
            guard anchor == "created_at", let value = seconds.flatMap(Int.init), (3600...2_592_000).contains(value) else {
                return Self.error(
                    400, "Invalid 'expires_after': anchor must be created_at and seconds between 3600 and 2592000.",
                    type: "invalid_request_error", param: "expires_after", code: "invalid_value")
            }
            expiresAfter = Double(value)
        }
        if purpose == "batch" {
            guard filename.hasSuffix(".jsonl") else {
                return Self.error(400, "The Batch API only supports .jsonl files.", type: "invalid_request_error", param: "file", code: nil)
            }
            guard file.content.count <= 200_000_000 else {
                return Self.error(400, "Batch files may be at most 200 MB.", type: "invalid_request_error", param: "file", code: nil)
            }
        }
        let stored = state.storeFile(
            filename: filename, purpose: purpose, content: Data(file.content), expiresAfter: expiresAfter, now: Self.now())
        return Self.json(Self.json(of: stored))
    }

    private func createBatch(_ data: Data) -> Response {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            return Self.error(
                400, "We could not parse the JSON body of your request.", type: "invalid_request_error", param: nil, code: nil)
        }
        for key in ["input_file_id", "endpoint", "completion_window"] where !(object[key] is String) {
            return Self.error(
                400, "Missing required parameter: '\(key)'.", type: "invalid_request_error", param: key, code: "missing_required_parameter")
        }
        let endpoints = [
            "/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations", "/v1/images/generations",
            "/v1/images/edits", "/v1/videos",
        ]
        let endpoint = object["endpoint"] as? String ?? ""
        guard endpoints.contains(endpoint) else {
            return Self.error(400, "Invalid value for 'endpoint'.", type: "invalid_request_error", param: "endpoint", code: "invalid_value")
        }
        guard endpoint == "/v1/responses" else {
            return Self.error(
                400, "The Kiln simulator runs /v1/responses batches only.", type: "invalid_request_error", param: "endpoint", code: nil)
        }
        guard object["completion_window"] as? String == "24h" else {
            return Self.error(
                400, "Invalid value for 'completion_window': only '24h' is supported.", type: "invalid_request_error",
                param: "completion_window", code: "invalid_value")
        }
        var metadata: [String: String] = [:]
        if let given = object["metadata"], !(given is NSNull) {
            guard let values = given as? [String: Any], values.count <= 16,
                values.allSatisfy({ $0.key.count <= 64 && ($0.value as? String)?.count ?? 513 <= 512 })
            else {
                return Self.error(
                    400, "Invalid 'metadata': at most 16 string values, keys ≤ 64 and values ≤ 512 characters.",
                    type: "invalid_request_error",
                    param: "metadata", code: "invalid_value")
            }
            metadata = values.compactMapValues { $0 as? String }
        }
        switch state.createBatch(
            inputFileID: object["input_file_id"] as? String ?? "", endpoint: endpoint, metadata: metadata, now: Self.now())
        {
        case .failure(let problem):
            return Self.error(400, problem.message, type: "invalid_request_error", param: problem.param, code: nil)
        case .success(let batch):
            let (type, end) = state.plannedEnd(of: batch)
            webhooks.batchCreated(batch.id, type: type, endsAt: end)
            return Self.json(state.json(of: batch, at: Self.now()))
        }
    }

    static func json(of file: SimulatedFile) -> [String: Any] {
        [
            "id": file.id, "object": "file", "bytes": file.content.count, "created_at": Int(file.createdAt),
            "expires_at": file.expiresAt.map { Int($0) as Any } ?? NSNull(), "filename": file.filename, "purpose": file.purpose,
            "status": "processed",
        ]
    }

    static func fileNotFound(_ id: String) -> Response {
        error(404, "No such File object: \(id.prefix(100))", type: "invalid_request_error", param: "id", code: nil)
    }

    static func batchNotFound(_ id: String) -> Response {
        error(404, "No batch found with id '\(id.prefix(100))'.", type: "invalid_request_error", param: nil, code: nil)
    }
}

/// `multipart/form-data` parts: enough of RFC 7578 for file uploads.
enum Multipart {
    struct Part {
        var name: String?
        var filename: String?
        var content: ArraySlice<UInt8>
    }

    static func parse(_ body: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [Part] = []
        var positions: [Int] = []
        var index = 0
        while index + delimiter.count <= body.count {
            if body[index] == delimiter[0], Array(body[index..<index + delimiter.count]) == delimiter {
                positions.append(index)
                index += delimiter.count
            } else {
                index += 1
            }
        }
        for (start, end) in zip(positions, positions.dropFirst()) {
            var section = body[(start + delimiter.count)..<end]
            if section.starts(with: [13, 10]) { section = section.dropFirst(2) }
            if section.suffix(2).elementsEqual([13, 10]) { section = section.dropLast(2) }
            guard let split = find([13, 10, 13, 10], in: section) else { continue }
            let head = String(decoding: section[section.startIndex..<split], as: UTF8.self)
            var part = Part(content: section[(split + 4)...])
            for line in head.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("content-disposition") {
                part.name = value(of: "name", in: line)
                part.filename = value(of: "filename", in: line)
            }
            parts.append(part)
        }
        return parts
    }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = haystack.startIndex
        while i + needle.count <= haystack.endIndex {
            if haystack[i..<i + needle.count].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    private static func value(of key: String, in line: String) -> String? {
        for item in line.components(separatedBy: ";") {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("\(key)=") {
                return String(trimmed.dropFirst(key.count + 1)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }
}
