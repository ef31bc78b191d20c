import Foundation
import KilnDomain

/// Reads a `Response` object tolerantly: unknown fields and unknown output item types are
/// skipped; only `id` and `status` are required.
enum ResponseDecoding {
    static func decode(_ data: Data) -> ProviderResponse? {
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: data),
            let id = document["id"]?.stringValue, !id.isEmpty
        else { return nil }
        guard let statusText = document["status"]?.stringValue else { return nil }
        var response = ProviderResponse(id: ResponseID(id), status: ProviderResponse.Status(statusText))
        var texts: [String] = []
        var refusals: [String] = []
        if case .array(let items)? = document["output"] {
            for item in items where item["type"]?.stringValue == "message" {
                guard case .array(let parts)? = item["content"] else { continue }
                for part in parts {
                    switch part["type"]?.stringValue {
                    case "output_text": if let text = part["text"]?.stringValue { texts.append(text) }
                    case "refusal": if let text = part["refusal"]?.stringValue { refusals.append(text) }
                    default: continue
                    }
                }
            }
        }
        response.outputText = texts.joined()
        response.refusal = refusals.isEmpty ? nil : refusals.joined(separator: "\n")
        response.incompleteReason = document["incomplete_details"]?["reason"]?.stringValue
        if let error = document["error"], error != .null {
            response.errorCode = error["code"]?.stringValue ?? "unknown"
            response.errorMessage = error["message"]?.stringValue ?? ""
        }
        if let usage = document["usage"], usage != .null {
            func int(_ value: JSONValue?) -> Int {
                if case .number(let n)? = value { return Int(n) }
                return 0
            }
            response.usage = RunUsage(
                inputTokens: int(usage["input_tokens"]), outputTokens: int(usage["output_tokens"]),
                totalTokens: int(usage["total_tokens"]),
                cachedInputTokens: int(usage["input_tokens_details"]?["cached_tokens"]),
                reasoningTokens: int(usage["output_tokens_details"]?["reasoning_tokens"]),
                cacheWriteTokens: int(usage["input_tokens_details"]?["cache_write_tokens"]),
                serviceTier: document["service_tier"]?.stringValue)
        }
        if case .number(let seconds)? = document["created_at"] { response.createdAt = Date(timeIntervalSince1970: seconds) }
        if case .number(let seconds)? = document["completed_at"] { response.completedAt = Date(timeIntervalSince1970: seconds) }
        if case .object(let metadata)? = document["metadata"] {
            response.metadata = metadata.compactMapValues(\.stringValue)
        }
        return response
    }

    /// The provider's error code and message, from the envelope `{"error": {...}}` (or a
    /// bare `Error` object, as the spec documents for cancel's 404).
    static func errorFields(_ data: Data) -> (code: String?, message: String?) {
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: data) else { return (nil, nil) }
        let error = document["error"].flatMap { $0 == .null ? nil : $0 } ?? document
        return (error["code"]?.stringValue ?? error["type"]?.stringValue, error["message"]?.stringValue)
    }
}
