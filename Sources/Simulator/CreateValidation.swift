import Foundation

/// The checks a Responses API server makes on a create body, with its 400 answers.
enum CreateValidation {
    struct Problem: Error {
        let message: String
        let param: String?
        let code: String?
    }

    static func parse(_ data: Data) -> Result<SimulatorState.CreateRequest, Problem> {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            return .failure(Problem(message: "We could not parse the JSON body of your request.", param: nil, code: nil))
        }
        guard let model = object["model"] as? String, !model.isEmpty else {
            return .failure(Problem(message: "Missing required parameter: 'model'.", param: "model", code: "missing_required_parameter"))
        }
        let input: String
        if let text = object["input"] as? String {
            input = text
        } else if let items = object["input"] as? [[String: Any]] {
            for (index, item) in items.enumerated() where (item["type"] as? String ?? "message") == "message" {
                guard let role = item["role"] as? String, ["user", "assistant", "system", "developer"].contains(role) else {
                    return .failure(
                        Problem(
                            message: "Invalid value for 'input[\(index)].role': expected one of user, assistant, system, developer.",
                            param: "input[\(index)].role", code: "invalid_value"))
                }
                guard item["content"] is String || item["content"] is [Any] else {
                    return .failure(
                        Problem(
                            message: "Missing required parameter: 'input[\(index)].content'.", param: "input[\(index)].content",
                            code: "missing_required_parameter"))
                }
            }
            input = items.compactMap { item in
                if let text = item["content"] as? String { return text }
                return (item["content"] as? [[String: Any]])?.compactMap { $0["text"] as? String }.joined(separator: "\n")
            }.joined(separator: "\n")
        } else {
            return .failure(Problem(message: "Missing required parameter: 'input'.", param: "input", code: "missing_required_parameter"))
        }
        let background = object["background"] as? Bool ?? false
        if background, object["store"] as? Bool == false {
            return .failure(Problem(message: "Background mode requires store=true.", param: "store", code: nil))
        }
        if object["stream"] as? Bool == true {
            return .failure(Problem(message: "Streaming is not supported by the Kiln simulator.", param: "stream", code: nil))
        }
        var metadata: [String: String] = [:]
        if let raw = object["metadata"], !(raw is NSNull) {
            guard let map = raw as? [String: Any], map.count <= 16,
                map.allSatisfy({ $0.key.count <= 64 && ($0.value as? String)?.count ?? 513 <= 512 })
            else {
                return .failure(
                    Problem(
                        message: "Invalid 'metadata': at most 16 pairs, keys ≤ 64 and string values ≤ 512 characters.", param: "metadata",
                        code: "invalid_value"))
            }
            metadata = map.compactMapValues { $0 as? String }
        }
        var maxOutputTokens: Int?
        if let raw = object["max_output_tokens"], !(raw is NSNull) {
            guard let value = raw as? Int else {
                return .failure(
                    Problem(
                        message: "Invalid type for 'max_output_tokens': expected an integer.", param: "max_output_tokens",
                        code: "invalid_type"))
            }
            guard value >= 16 else {
                return .failure(
                    Problem(
                        message:
                            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got \(value) instead.",
                        param: "max_output_tokens", code: "integer_below_min_value"))
            }
            maxOutputTokens = value
        }
        var window: String?
        if let options = object["background_options"] as? [String: Any], let value = options["completion_window"] {
            guard let text = value as? String, ["soonest", "2h", "8h"].contains(text) else {
                return .failure(
                    Problem(
                        message: "Invalid 'background_options.completion_window': expected one of soonest, 2h, 8h.",
                        param: "background_options.completion_window", code: "invalid_value"))
            }
            guard background else {
                return .failure(Problem(message: "background_options requires background=true.", param: "background_options", code: nil))
            }
            window = text
        }
        var tier: String?
        if let value = object["service_tier"], !(value is NSNull) {
            let tiers = ["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"]
            guard let text = value as? String, tiers.contains(text) else {
                return .failure(
                    Problem(
                        message: "Invalid 'service_tier': expected one of \(tiers.joined(separator: ", ")).", param: "service_tier",
                        code: "invalid_value"))
            }
            tier = text
        }
        var cacheKey: String?
        if let value = object["prompt_cache_key"], !(value is NSNull) {
            guard let text = value as? String else {
                return .failure(
                    Problem(message: "Invalid 'prompt_cache_key': expected a string.", param: "prompt_cache_key", code: "invalid_type"))
            }
            cacheKey = text
        }
        var format: Data?
        switch textFormat(object["text"]) {
        case .failure(let problem): return .failure(problem)
        case .success(let parsed): format = parsed
        }
        return .success(
            SimulatorState.CreateRequest(
                model: model, instructions: object["instructions"] as? String, input: input, metadata: metadata,
                maxOutputTokens: maxOutputTokens, background: background, completionWindow: window, textFormat: format, body: data,
                serviceTier: tier, promptCacheKey: cacheKey))
    }

    /// `text.format`: nil for text, or the `json_schema` format (as JSON) the answer must follow.
    static func textFormat(_ raw: Any?) -> Result<Data?, Problem> {
        guard let raw, !(raw is NSNull) else { return .success(nil) }
        guard let text = raw as? [String: Any] else {
            return .failure(Problem(message: "Invalid type for 'text': expected an object.", param: "text", code: "invalid_type"))
        }
        guard let format = text["format"], !(format is NSNull) else { return .success(nil) }
        guard let object = format as? [String: Any], let type = object["type"] as? String,
            ["text", "json_schema", "json_object"].contains(type)
        else {
            return .failure(
                Problem(
                    message: "Invalid value for 'text.format.type': expected one of text, json_schema, json_object.",
                    param: "text.format.type", code: "invalid_value"))
        }
        guard type == "json_schema" else { return .success(nil) }
        guard let name = object["name"] as? String, !name.isEmpty, name.count <= 64,
            name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "_" || $0 == "-" })
        else {
            return .failure(
                Problem(
                    message: "Invalid 'text.format.name': must be 1-64 characters of a-z, A-Z, 0-9, underscores and dashes.",
                    param: "text.format.name", code: "invalid_value"))
        }
        guard let schema = object["schema"] as? [String: Any] else {
            return .failure(
                Problem(
                    message: "Missing required parameter: 'text.format.schema'.", param: "text.format.schema",
                    code: "missing_required_parameter"))
        }
        if let strict = object["strict"], !(strict is NSNull), !(strict is Bool) {
            return .failure(
                Problem(
                    message: "Invalid type for 'text.format.strict': expected a boolean.", param: "text.format.strict", code: "invalid_type"
                ))
        }
        if object["strict"] as? Bool == true, let problem = SchemaInstance.strictModeProblem(schema, name: name) {
            return .failure(Problem(message: problem, param: "text.format.schema", code: "invalid_json_schema"))
        }
        return .success(try? JSONSerialization.data(withJSONObject: object))
    }
}
