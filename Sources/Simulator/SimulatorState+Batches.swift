import Foundation

/// Files and batches: the Batch API over the same simulated responses as background mode —
/// uploads, creating a batch (validating its file, planning its requests), its status over
/// time, cancel and list.
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
}
