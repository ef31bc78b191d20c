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
