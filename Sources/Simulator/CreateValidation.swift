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
        return .success(
            SimulatorState.CreateRequest(
                model: model, instructions: object["instructions"] as? String, input: input, metadata: metadata,
                maxOutputTokens: maxOutputTokens, background: background, completionWindow: window, body: data))
    }
}
