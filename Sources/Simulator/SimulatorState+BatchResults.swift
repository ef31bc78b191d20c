import Foundation

/// What a batch shows: its planned end (for its webhook), the output and error files it writes
/// when it ends, and its `Batch` object.
extension SimulatorState {
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
    func writeFiles(_ ended: SimulatedBatch, status: String, now: Double) -> SimulatedBatch {
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
