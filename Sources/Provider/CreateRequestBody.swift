import KilnDomain

/// The JSON body of `POST /responses` (`CreateResponse` in the spec) that Kiln sends.
struct CreateRequestBody: Encodable {
    struct BackgroundOptions: Encodable {
        let completionWindow: String
        enum CodingKeys: String, CodingKey { case completionWindow = "completion_window" }
    }

    let model: String
    let instructions: String
    let input: String
    let background: Bool
    let store: Bool
    let metadata: [String: String]
    let maxOutputTokens: Int
    /// Sent only when the policy asks for a window: servers that do not know the field are
    /// not sent it by default.
    let backgroundOptions: BackgroundOptions?

    init(_ request: ProviderRequest) {
        model = request.generation.model
        instructions = request.generation.instructions
        input = request.generation.input
        background = request.background
        store = true
        metadata = request.metadata
        maxOutputTokens = request.generation.maxOutputTokens
        backgroundOptions =
            request.background ? request.generation.completionWindow.map { BackgroundOptions(completionWindow: $0.rawValue) } : nil
    }

    enum CodingKeys: String, CodingKey {
        case model, instructions, input, background, store, metadata
        case maxOutputTokens = "max_output_tokens"
        case backgroundOptions = "background_options"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(model, forKey: .model)
        try c.encode(instructions, forKey: .instructions)
        try c.encode(input, forKey: .input)
        try c.encode(background, forKey: .background)
        try c.encode(store, forKey: .store)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(maxOutputTokens, forKey: .maxOutputTokens)
        try c.encodeIfPresent(backgroundOptions, forKey: .backgroundOptions)
    }
}
