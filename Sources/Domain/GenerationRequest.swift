/// What a feature asks the model to do; the provider client turns it into a create body.
public struct GenerationRequest: Sendable, Hashable {
    public var model: String
    public var instructions: String
    public var input: String
    public var maxOutputTokens: Int
    public var completionWindow: RunPolicy.CompletionWindow?

    public init(
        model: String, instructions: String, input: String, maxOutputTokens: Int,
        completionWindow: RunPolicy.CompletionWindow?
    ) {
        self.model = model
        self.instructions = instructions
        self.input = input
        self.maxOutputTokens = maxOutputTokens
        self.completionWindow = completionWindow
    }
}
