/// What a feature asks the model to do; the provider client turns it into a create body.
public struct GenerationRequest: Sendable, Hashable {
    /// How the model must shape its answer (`text.format` of a create).
    public enum OutputFormat: Sendable, Hashable {
        /// Free text (the provider's default; nothing is sent).
        case text
        /// Structured Outputs: JSON that satisfies `schema`, sent in strict mode under `name`.
        case jsonSchema(name: String, schema: OutputSchema)
    }

    public var model: String
    public var instructions: String?
    public var input: PromptInput
    public var maxOutputTokens: Int
    public var completionWindow: RunPolicy.CompletionWindow?
    public var outputFormat: OutputFormat
    /// `service_tier` to ask for (`flex`); nil sends none (the project's tier).
    public var serviceTier: String?
    /// Set when a flex run is sent at standard after waiting long enough for flex capacity.
    public var fallbackFrom: RunPolicy.Lane?
    /// `prompt_cache_key`: runs of one feature and prompt version share it (sharded by rate).
    public var promptCacheKey: String?

    public init(
        model: String, instructions: String?, input: PromptInput, maxOutputTokens: Int,
        completionWindow: RunPolicy.CompletionWindow?, outputFormat: OutputFormat = .text
    ) {
        self.model = model
        self.instructions = instructions
        self.input = input
        self.maxOutputTokens = maxOutputTokens
        self.completionWindow = completionWindow
        self.outputFormat = outputFormat
    }
}

extension GenerationRequest {
    /// Input tokens this request is expected to use: its characters ÷ 4 (no tokenizer), for
    /// the submitters' shared token budget.
    public var estimatedInputTokens: Int {
        ((instructions?.utf8.count ?? 0) + input.utf8Count) / 4 + 1
    }
}

extension GenerationRequest {
    /// The most this request can cost at `price`: every byte of instructions, input and output
    /// schema counted as a token (a token is at least one byte of text), 16 tokens per message
    /// and 64 for the request's framing, and `maxOutputTokens` of output (reasoning included).
    /// What a run reserves against its tenant's and feature's cost caps while it is in flight.
    public func maxCostMicros(at price: ModelPrice) -> Int64 {
        var inputTokens = (instructions?.utf8.count ?? 0) + input.utf8Count + 64
        if case .messages(let messages) = input { inputTokens += 16 * messages.count }
        if case .jsonSchema(let name, let schema) = outputFormat { inputTokens += name.utf8.count + schema.json.jsonText.utf8.count }
        let total = Int64(inputTokens) * price.inputPerMillionMicros + Int64(maxOutputTokens) * price.outputPerMillionMicros
        return (total + 999_999) / 1_000_000
    }
}
