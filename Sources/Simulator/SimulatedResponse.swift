import Foundation

/// One response the simulated provider holds: its plan (when it leaves the queue, when it
/// ends, how) and what it renders as at any moment.
struct SimulatedResponse: Sendable {
    enum Outcome: String, Sendable { case completed, failed, failedForQuota, incomplete, refused, stuck }

    let id: String
    let model: String
    let instructions: String?
    let metadata: [String: String]
    let maxOutputTokens: Int?
    let background: Bool
    let createdAt: Double  // unix seconds, real time
    let startsAt: Double  // leaves the queue
    let endsAt: Double  // reaches its outcome
    let outcome: Outcome
    let text: String
    /// The `json_schema` format the request asked for (JSON), echoed in `text.format`.
    let textFormat: Data?
    let inputTokens: Int
    /// The tier it reports having served: `flex` when asked, `priority` for priority or fast, else `default`.
    var serviceTier = "default"
    /// Input tokens read from the prompt cache (``SimulatorState/cachedTokens(_:now:state:)``).
    var cachedTokens = 0
    var cancelledAt: Double?
    var deleted = false

    enum Status: String {
        case queued
        case inProgress = "in_progress"
        case completed, failed, cancelled, incomplete
    }

    func status(at now: Double) -> Status {
        if cancelledAt != nil { return .cancelled }  // set only while it was running
        if outcome == .stuck || now < startsAt { return .queued }
        if now < endsAt { return .inProgress }
        switch outcome {
        case .completed, .refused: return .completed
        case .failed, .failedForQuota: return .failed
        case .incomplete: return .incomplete
        case .stuck: return .queued
        }
    }

    /// When it reached a terminal state, if it has.
    func finishedAt(_ now: Double) -> Double? {
        if let cancelledAt { return cancelledAt }
        let status = status(at: now)
        return status == .queued || status == .inProgress ? nil : endsAt
    }

    /// The `Response` object of the spec, as it stands at `now`.
    func json(at now: Double) -> [String: Any] {
        let status = status(at: now)
        var object: [String: Any] = [
            "id": id, "object": "response", "created_at": Int(createdAt), "status": status.rawValue,
            "background": background, "error": NSNull(), "incomplete_details": NSNull(),
            "instructions": instructions.map { $0 as Any } ?? NSNull(), "model": model,
            "output": [Any](), "parallel_tool_calls": true, "tool_choice": "auto", "tools": [Any](),
            "temperature": 1.0, "top_p": 1.0, "metadata": metadata, "store": true,
            "truncation": "disabled", "service_tier": serviceTier, "completed_at": NSNull(),
            "max_output_tokens": maxOutputTokens.map { $0 as Any } ?? NSNull(),
            "text": ["format": textFormat.flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? ["type": "text"]],
        ]
        switch status {
        case .queued, .inProgress, .cancelled:
            break
        case .completed:
            object["completed_at"] = Int(endsAt)
            if outcome == .refused {
                object["output"] = [message(status: "completed", content: [["type": "refusal", "refusal": "I can't help with that."]])]
                object["usage"] = usage(outputTokens: 6)
            } else {
                object["output"] = [message(status: "completed", content: [textPart(text)])]
                object["usage"] = usage(outputTokens: Self.tokens(text))
            }
        case .incomplete:
            let partial = String(text.prefix(max(1, text.count / 2)))
            object["incomplete_details"] = ["reason": "max_output_tokens"]
            object["output"] = [message(status: "incomplete", content: [textPart(partial)])]
            object["usage"] = usage(outputTokens: maxOutputTokens ?? Self.tokens(partial))
        case .failed:
            if outcome == .failedForQuota {
                object["error"] = [
                    "code": "rate_limit_exceeded",
                    "message": "You exceeded your current quota, please check your plan and billing details.",
                ]
            } else {
                object["error"] = ["code": "server_error", "message": "The model failed to generate a response."]
            }
            object["usage"] = usage(outputTokens: 0)
        }
        return object
    }

    private func message(status: String, content: [[String: Any]]) -> [String: Any] {
        ["id": "msg_" + id.dropFirst(5), "type": "message", "role": "assistant", "status": status, "content": content]
    }

    private func textPart(_ text: String) -> [String: Any] {
        ["type": "output_text", "text": text, "annotations": [Any](), "logprobs": [Any]()]
    }

    private func usage(outputTokens: Int) -> [String: Any] {
        [
            "input_tokens": inputTokens,
            "input_tokens_details": ["cached_tokens": min(cachedTokens, inputTokens), "cache_write_tokens": 0],
            "output_tokens": outputTokens, "output_tokens_details": ["reasoning_tokens": 0],
            "total_tokens": inputTokens + outputTokens,
        ]
    }

    static func tokens(_ text: String) -> Int { text.utf8.count / 4 + 1 }

    static func servedTier(_ asked: String?) -> String {
        switch asked {
        case "flex": "flex"
        case "priority", "fast": "priority"
        default: "default"
        }
    }

    /// What the simulator "generates" for `request`: JSON that satisfies a `json_schema`
    /// format (or, when a directive asks, JSON that does not, or no JSON at all), else a summary.
    static func answer(to request: SimulatorState.CreateRequest, directives: Directives) -> String {
        guard let data = request.textFormat, let format = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let schema = format["schema"] as? [String: Any]
        else {
            return summary(of: request.input, maxOutputTokens: request.maxOutputTokens)
        }
        if directives.malformedJSON { return #"{"answer": "the model stopped mid-obj"# }
        if directives.schemaMismatch { return #"{"unexpected_key": true}"# }
        let value = SchemaInstance.make(for: schema, root: schema, seedText: request.input)
        let json = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])
        return json.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// The summary the simulator "generates": a deterministic function of the input that,
    /// as a model told to keep names and figures would, keeps every planted fact (a word
    /// `FACT-…`) in order, so a long document's tree can be checked end to end.
    static func summary(of input: String, maxOutputTokens: Int?) -> String {
        let words = input.split(whereSeparator: \.isWhitespace).filter { !$0.hasPrefix("[sim:") }
        let lead = words.prefix(40).joined(separator: " ")
        var text = "Summary of a \(words.count)-word document: \(lead)\(words.count > 40 ? " …" : "")"
        var facts: [Substring] = []
        for word in words where word.hasPrefix("FACT-") {
            let fact = word.prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if facts.last != fact { facts.append(fact) }
        }
        if !facts.isEmpty { text += " Facts: " + facts.joined(separator: " ") + "." }
        let limit = (maxOutputTokens ?? 4096) * 4
        return String(text.prefix(limit))
    }
}
