import KilnDomain

/// The JSON body of `POST /responses` (`CreateResponse` in the spec) that Kiln sends.
struct CreateRequestBody: Encodable {
    struct BackgroundOptions: Encodable {
        let completionWindow: String
        enum CodingKeys: String, CodingKey { case completionWindow = "completion_window" }
    }

    /// `input`: a string, or a list of `EasyInputMessage` (`{"role", "content"}`).
    enum Input: Encodable {
        case text(String)
        case messages([Message])

        struct Message: Encodable {
            let role: String
            let content: String
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let text): try c.encode(text)
            case .messages(let messages): try c.encode(messages)
            }
        }
    }

    /// `text.format` of Structured Outputs (`TextResponseFormatJsonSchema`).
    struct TextParam: Encodable {
        struct Format: Encodable {
            let type = "json_schema"
            let name: String
            let schema: JSONValue
            let strict = true
        }
        let format: Format
    }

    let model: String
    let instructions: String?
    let input: Input
    let text: TextParam?
    let background: Bool
    let store: Bool
    let metadata: [String: String]
    let maxOutputTokens: Int
    /// Sent only when the policy asks for a window: servers that do not know the field are
    /// not sent it by default.
    let backgroundOptions: BackgroundOptions?
    /// Sent only for a flex run (`ServiceTierResponses`).
    let serviceTier: String?
    let promptCacheKey: String?

    init(_ request: ProviderRequest) {
        model = request.generation.model
        instructions = request.generation.instructions
        switch request.generation.input {
        case .text(let text): input = .text(text)
        case .messages(let messages): input = .messages(messages.map { Input.Message(role: $0.role.rawValue, content: $0.content) })
        }
        switch request.generation.outputFormat {
        case .text: text = nil
        case .jsonSchema(let name, let schema): text = TextParam(format: TextParam.Format(name: name, schema: schema.json))
        }
        background = request.background
        store = true
        metadata = request.metadata
        maxOutputTokens = request.generation.maxOutputTokens
        backgroundOptions =
            request.background ? request.generation.completionWindow.map { BackgroundOptions(completionWindow: $0.rawValue) } : nil
        serviceTier = request.generation.serviceTier
        promptCacheKey = request.generation.promptCacheKey
    }

    enum CodingKeys: String, CodingKey {
        case model, instructions, input, text, background, store, metadata
        case maxOutputTokens = "max_output_tokens"
        case backgroundOptions = "background_options"
        case serviceTier = "service_tier"
        case promptCacheKey = "prompt_cache_key"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encodeIfPresent(instructions, forKey: .instructions)
        try c.encode(input, forKey: .input)
        try c.encodeIfPresent(text, forKey: .text)
        try c.encode(background, forKey: .background)
        try c.encode(store, forKey: .store)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(maxOutputTokens, forKey: .maxOutputTokens)
        try c.encodeIfPresent(backgroundOptions, forKey: .backgroundOptions)
        try c.encodeIfPresent(serviceTier, forKey: .serviceTier)
        try c.encodeIfPresent(promptCacheKey, forKey: .promptCacheKey)
    }
}
