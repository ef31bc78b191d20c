import Foundation

/// Files and batches: the Batch API over the same simulated responses as background mode.
struct SimulatedFile: Sendable {
    let id: String
    let filename: String
    let purpose: String
    let createdAt: Double
    let expiresAt: Double?
    let content: Data
}

struct SimulatedBatch: Sendable {
    /// Why a request or the whole file was refused.
    struct Problem: Sendable {
        let code: String?
        let message: String
        let param: String?
        var line: Int? = nil

        var json: [String: Any] {
            [
                "code": code.map { $0 as Any } ?? NSNull(), "message": message, "param": param.map { $0 as Any } ?? NSNull(),
                "line": line.map { $0 as Any } ?? NSNull(),
            ]
        }
    }

    /// One line of the input file: its custom_id and the response it became (nil: refused
    /// with a 400 and `refusal`).
    struct Request: Sendable {
        let customID: String
        let responseID: String?
        let refusal: Problem?
    }

    let id: String
    let inputFileID: String
    let endpoint: String
    let model: String
    let metadata: [String: String]
    let createdAt: Double
    let inProgressAt: Double
    let expiresAt: Double
    /// Why the file was refused as a whole (status `failed` once validated).
    let errors: [Problem]
    let requests: [Request]
    var cancellingAt: Double?
    var outputFileID: String?
    var errorFileID: String?
    /// When it reached its terminal status and wrote its files.
    var endedAt: Double?
    var endedStatus: String?
}

extension SimulatorState {
    func storeFile(filename: String, purpose: String, content: Data, expiresAfter: Double?, now: Double) -> SimulatedFile {
        inner.withLock { state in
            state.sequence += 1
            let id = String(format: "file-%016llx%08llx", state.sequence, state.random.next() & 0xffff_ffff)
            let file = SimulatedFile(
                id: id, filename: filename, purpose: purpose, createdAt: now, expiresAt: expiresAfter.map { now + $0 }, content: content)
            state.files[id] = file
            if purpose == "batch" { state.counters.fileUploads += 1 }
            return file
        }
    }

    func file(_ id: String) -> SimulatedFile? { inner.withLock { $0.files[id] } }

    func deleteFile(_ id: String) -> Bool { inner.withLock { $0.files.removeValue(forKey: id) != nil } }

    /// Validates the input file and plans every request: a response (created now, with its
    /// start drawn within `batchQueueWaitMax`), or its refusal.
    func createBatch(inputFileID: String, endpoint: String, metadata: [String: String], now: Double) -> Result<SimulatedBatch, BatchProblem>
    {
        guard let file = file(inputFileID), file.purpose == "batch" else {
            return .failure(
                BatchProblem(
                    message: "Invalid 'input_file_id': '\(inputFileID.prefix(80))'. File not found or not a batch file.",
                    param: "input_file_id"))
        }
        let c = configuration
        let validated = now + c.batchValidatingSeconds / c.timeScale
        var errors: [SimulatedBatch.Problem] = []
        var requests: [SimulatedBatch.Request] = []
        var seen: Set<String> = []
        var model = ""
        let lines = file.content.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        if lines.count > 50_000 {
            errors.append(.init(code: "too_many_requests", message: "The input file has more than 50,000 requests.", param: nil))
        }
        var parsedLines: [(String, Data)] = []
        for (index, line) in lines.enumerated() where errors.isEmpty {
            let number = index + 1
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                errors.append(
                    .init(code: "invalid_json_line", message: "This line is not parseable as valid JSON.", param: nil, line: number))
                break
            }
            guard let customID = object["custom_id"] as? String, !customID.isEmpty else {
                errors.append(.init(code: "missing_required_parameter", message: "Missing 'custom_id'.", param: "custom_id", line: number))
                break
            }
            guard seen.insert(customID).inserted else {
                errors.append(
                    .init(
                        code: "duplicate_custom_id", message: "The custom_id '\(customID)' is used more than once.", param: "custom_id",
                        line: number))
                break
            }
            guard object["method"] as? String == "POST", object["url"] as? String == endpoint, let body = object["body"] as? [String: Any]
            else {
                errors.append(
                    .init(
                        code: "invalid_request", message: "Each line needs method POST, url \(endpoint) and a body.", param: nil,
                        line: number))
                break
            }
            if String(decoding: line, as: UTF8.self).contains("[sim:batch_fail]") {
                // A refusal of the whole file, on demand (the provider's reasons vary: queue limits, validation).
                errors.append(.init(code: "invalid_request", message: "This batch was refused (simulated).", param: nil, line: number))
                break
            }
            let lineModel = body["model"] as? String ?? ""
            if model.isEmpty { model = lineModel }
            if lineModel != model {
                errors.append(
                    .init(
                        code: "mismatched_model", message: "Every request of a batch must use the same model.", param: "body.model",
                        line: number))
                break
            }
            parsedLines.append((customID, (try? JSONSerialization.data(withJSONObject: body)) ?? Data()))
        }
        if errors.isEmpty {
            for (customID, body) in parsedLines {
                switch CreateValidation.parse(body) {
                case .failure(let problem):
                    requests.append(
                        .init(
                            customID: customID, responseID: nil,
                            refusal: .init(code: problem.code, message: problem.message, param: problem.param)))
                case .success(let parsed):
                    var random = SeededRandom(seed: c.seed ^ SeededRandom.hash(customID + "#batch"))
                    let start = validated + random.unit() * c.batchQueueWaitMax / c.timeScale
                    let response = create(parsed, now: start)
                    requests.append(.init(customID: customID, responseID: response.id, refusal: nil))
                }
            }
        }
        return inner.withLock { state -> Result<SimulatedBatch, BatchProblem> in
            state.sequence += 1
            let id = String(format: "batch_%016llx%08llx", state.sequence, state.random.next() & 0xffff_ffff)
            let batch = SimulatedBatch(
                id: id, inputFileID: inputFileID, endpoint: endpoint, model: model, metadata: metadata, createdAt: now,
                inProgressAt: validated, expiresAt: now + c.batchWindowSeconds / c.timeScale, errors: errors, requests: requests)
            state.batches[id] = batch
            state.batchOrder.append(id)
            state.counters.batches += 1
            if let key = metadata["kiln_batch_id"] { state.counters.batchesByKilnBatch[key, default: 0] += 1 }
            return .success(batch)
        }
    }

    /// The batch as it stands at `now`, its files written when it reached its end.
    func batch(_ id: String, now: Double) -> SimulatedBatch? {
        guard var batch = inner.withLock({ $0.batches[id] }) else { return nil }
        let (status, _) = status(of: batch, at: now)
        if batch.endedAt == nil, ["completed", "expired", "cancelled", "failed"].contains(status) {
            batch = writeFiles(batch, status: status, now: now)
        }
        return batch
    }

    func cancelBatch(_ id: String, now: Double) -> SimulatedBatch? {
        let found = inner.withLock { state -> Bool in
            guard var batch = state.batches[id] else { return false }
            if batch.cancellingAt == nil, batch.endedAt == nil { batch.cancellingAt = now }
            state.batches[id] = batch
            return true
        }
        return found ? batch(id, now: now) : nil
    }

    /// Newest first, after the one with id `after`.
    func listBatches(after: String?, limit: Int, now: Double) -> (batches: [SimulatedBatch], hasMore: Bool) {
        let ids: [String] = inner.withLock { Array($0.batchOrder.reversed()) }
        var start = 0
        if let after, let index = ids.firstIndex(of: after) { start = index + 1 }
        let page = Array(ids.dropFirst(start).prefix(limit))
        return (page.compactMap { batch($0, now: now) }, start + page.count < ids.count)
    }

    /// The status at `now`, and the moment the request results are taken at (its end).
    func status(of batch: SimulatedBatch, at now: Double) -> (String, Double) {
        let c = configuration
        if let ended = batch.endedAt, let status = batch.endedStatus { return (status, ended) }
        if now < batch.inProgressAt { return ("validating", now) }
        if !batch.errors.isEmpty { return ("failed", batch.inProgressAt) }
        let finishes = inner.withLock { state in
            batch.requests.compactMap { $0.responseID.flatMap { state.responses[$0] }?.finishedAt(.infinity) }
        }
        let running = batch.requests.filter { $0.responseID != nil }.count
        let lastFinish = finishes.count == running ? (finishes.max() ?? batch.inProgressAt) : .infinity
        let finalized = lastFinish + c.batchFinalizingSeconds / c.timeScale
        if let cancelling = batch.cancellingAt, cancelling < min(finalized, batch.expiresAt) {
            let cancelled = cancelling + c.batchCancellingSeconds / c.timeScale
            return now < cancelled ? ("cancelling", cancelling) : ("cancelled", cancelling)
        }
        if finalized <= batch.expiresAt {
            if now < lastFinish { return ("in_progress", now) }
            return now < finalized ? ("finalizing", now) : ("completed", lastFinish)
        }
        return now < batch.expiresAt ? ("in_progress", now) : ("expired", batch.expiresAt)
    }

    /// The `batch.*` event its end sends, and when, as planned at its creation (a cancel changes it).
    func plannedEnd(of batch: SimulatedBatch) -> (type: String, at: Double) {
        let (status, cut) = self.status(of: batch, at: .infinity)
        let c = configuration
        return switch status {
        case "completed": ("batch.completed", cut + c.batchFinalizingSeconds / c.timeScale)
        case "failed": ("batch.failed", batch.inProgressAt)
        default: ("batch.expired", batch.expiresAt)
        }
    }

    /// Writes the output file (requests that finished by the batch's end) and the error file
    /// (refused requests, and those it did not get to: `batch_expired` / `batch_cancelled`).
    private func writeFiles(_ ended: SimulatedBatch, status: String, now: Double) -> SimulatedBatch {
        var batch = ended
        let (_, cut) = self.status(of: batch, at: now)
        var output = Data()
        var errors = Data()
        func line(_ object: [String: Any]) -> Data {
            var data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data()
            data.append(UInt8(ascii: "\n"))
            return data
        }
        for (index, request) in batch.requests.enumerated() where status != "failed" {
            let lineID = "batch_req_\(batch.id.dropFirst(6))_\(index)"
            if let refusal = request.refusal {
                errors.append(
                    line([
                        "id": lineID, "custom_id": request.customID,
                        "response": [
                            "status_code": 400, "request_id": "req_sim",
                            "body": ["error": refusal.json.filter { $0.key != "line" }.merging(["type": "invalid_request_error"]) { $1 }],
                        ],
                        "error": NSNull(),
                    ]))
                continue
            }
            guard let id = request.responseID, case .found(let response) = lookup(id, now: now) else { continue }
            if let finished = response.finishedAt(.infinity), finished <= cut {
                output.append(
                    line([
                        "id": lineID, "custom_id": request.customID,
                        "response": ["status_code": 200, "request_id": "req_sim", "body": response.json(at: finished)], "error": NSNull(),
                    ]))
            } else {
                let code = status == "expired" ? "batch_expired" : "batch_cancelled"
                let message =
                    status == "expired"
                    ? "This request could not be executed before the completion window expired."
                    : "This request was not executed because the batch was cancelled."
                errors.append(
                    line(["id": lineID, "custom_id": request.customID, "response": NSNull(), "error": ["code": code, "message": message]]))
                // It never runs: the simulated response is withdrawn (not billed, not retrievable).
                inner.withLock { state in
                    guard let withdrawn = state.responses.removeValue(forKey: id) else { return }
                    state.counters.creates -= 1
                    if let runID = withdrawn.metadata["kiln_run_id"] {
                        state.counters.createsByRun[runID, default: 1] -= 1
                        state.responsesByRun[runID]?.removeAll { $0 == id }
                    }
                }
            }
        }
        if !output.isEmpty {
            batch.outputFileID =
                storeFile(filename: "batch_output.jsonl", purpose: "batch_output", content: output, expiresAfter: nil, now: now).id
        }
        if !errors.isEmpty {
            batch.errorFileID =
                storeFile(filename: "batch_errors.jsonl", purpose: "batch_output", content: errors, expiresAfter: nil, now: now).id
        }
        batch.endedAt = cut
        batch.endedStatus = status
        let written = batch
        inner.withLock { state in
            // Another caller may have written them first: keep one set.
            if state.batches[written.id]?.endedAt == nil { state.batches[written.id] = written }
        }
        return inner.withLock { $0.batches[written.id] } ?? written
    }

    /// The `Batch` object of the spec.
    func json(of batch: SimulatedBatch, at now: Double) -> [String: Any] {
        let (status, _) = status(of: batch, at: now)
        func time(_ value: Double?) -> Any { value.map { Int($0) as Any } ?? NSNull() }
        let ended = batch.endedAt
        var completed = 0
        var failed = 0
        var usage: [String: Int] = ["input": 0, "cached": 0, "output": 0, "reasoning": 0]
        if let ended, status != "failed" {
            for request in batch.requests {
                if request.refusal != nil {
                    failed += 1
                    continue
                }
                guard let id = request.responseID, case .found(let response) = lookup(id, now: now),
                    let finished = response.finishedAt(.infinity), finished <= ended
                else { continue }
                completed += 1
                if let tokens = response.json(at: finished)["usage"] as? [String: Any] {
                    usage["input", default: 0] += tokens["input_tokens"] as? Int ?? 0
                    usage["output", default: 0] += tokens["output_tokens"] as? Int ?? 0
                    usage["cached", default: 0] += (tokens["input_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? 0
                    usage["reasoning", default: 0] += (tokens["output_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int ?? 0
                }
            }
        }
        let c = configuration
        // The spec types these as a string or an integer, not nullable: an unset one is left out.
        let object: [String: Any] = [
            "id": batch.id, "object": "batch", "endpoint": batch.endpoint, "model": batch.model,
            "errors": batch.errors.isEmpty ? NSNull() : ["object": "list", "data": batch.errors.map(\.json)] as Any,
            "input_file_id": batch.inputFileID, "completion_window": "24h", "status": status,
            "output_file_id": batch.outputFileID.map { $0 as Any } ?? NSNull(),
            "error_file_id": batch.errorFileID.map { $0 as Any } ?? NSNull(),
            "created_at": Int(batch.createdAt),
            "in_progress_at": now >= batch.inProgressAt && batch.errors.isEmpty ? Int(batch.inProgressAt) : NSNull(),
            "expires_at": Int(batch.expiresAt),
            "finalizing_at": status == "finalizing" || status == "completed" ? time(ended.map { $0 } ?? now) : NSNull(),
            "completed_at": status == "completed" ? time(ended.map { $0 + c.batchFinalizingSeconds / c.timeScale }) : NSNull(),
            "failed_at": status == "failed" ? time(batch.inProgressAt) : NSNull(),
            "expired_at": status == "expired" ? time(batch.expiresAt) : NSNull(),
            "cancelling_at": time(batch.cancellingAt),
            "cancelled_at": status == "cancelled" ? time(batch.cancellingAt.map { $0 + c.batchCancellingSeconds / c.timeScale }) : NSNull(),
            "request_counts": ["total": batch.requests.count, "completed": completed, "failed": failed],
            "usage": [
                "input_tokens": usage["input"] ?? 0, "input_tokens_details": ["cached_tokens": usage["cached"] ?? 0],
                "output_tokens": usage["output"] ?? 0, "output_tokens_details": ["reasoning_tokens": usage["reasoning"] ?? 0],
                "total_tokens": (usage["input"] ?? 0) + (usage["output"] ?? 0),
            ],
            "metadata": batch.metadata,
        ]
        return object.filter { !($0.value is NSNull) }
    }
}

struct BatchProblem: Error {
    let message: String
    let param: String?
}
