import Foundation
import KilnDomain
import Testing

/// Declarations an app writes in the configuration, and the inputs its runs carry: every
/// refusal names the key.
@Suite("Declared features")
struct DeclaredFeatureTests {
    static let schema: JSONValue = [
        "type": "object", "additionalProperties": false, "required": ["title"], "properties": ["title": ["type": "string"]],
    ]

    struct BadDeclaration: Sendable, CustomTestStringConvertible {
        let name: String
        let declaration: JSONValue
        let message: String
        var testDescription: String { message }
    }

    static let badDeclarations: [BadDeclaration] = [
        BadDeclaration(name: "card", declaration: "v1", message: "features.card must be an object"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "prompt": "x"], message: "features.card has unknown key \"prompt\""),
        BadDeclaration(name: "card", declaration: ["policy": [:]], message: "features.card.prompt_version is required"),
        BadDeclaration(name: "card", declaration: ["prompt_version": ""], message: "features.card.prompt_version is required"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "policy": ["max_tokens": 5]],
            message: "unknown policy key \"max_tokens\" in features.card.policy"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "policy": ["max_output_tokens": 0]],
            message: "features.card.policy.max_output_tokens must be in 1...128000"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "policy": "fast"], message: "features.card.policy must be an object"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "output_schema": "object"], message: "features.card.output_schema"),
        BadDeclaration(
            name: "card",
            declaration: ["prompt_version": "v1", "output_schema": ["type": "object", "properties": ["a": ["type": "string"]]]],
            message: "additionalProperties"),
        BadDeclaration(
            name: "card",
            declaration: [
                "prompt_version": "v1",
                "output_schema": [
                    "type": "object", "additionalProperties": false, "required": [], "properties": ["a": ["type": "string"]],
                ],
            ], message: "features.card.output_schema"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "output_schema": ["type": "array", "items": ["type": "string"]]],
            message: "features.card.output_schema"),
        BadDeclaration(
            name: "card",
            declaration: [
                "prompt_version": "v1",
                "output_schema": ["type": "object", "additionalProperties": false, "required": [], "properties": [:], "allOf": []],
            ], message: "allOf"),
        BadDeclaration(name: "Product-Card", declaration: ["prompt_version": "v1"], message: "features.Product-Card: a feature name"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "allowed_input_keys": [1]],
            message: "features.card.allowed_input_keys must be an array of strings"),
        BadDeclaration(
            name: "card", declaration: ["prompt_version": "v1", "allowed_input_keys": ["input"]],
            message: "features.card.allowed_input_keys: \"input\""),
    ]

    @Test(arguments: badDeclarations)
    func aBadDeclarationIsRefusedWithItsKeyNamed(_ bad: BadDeclaration) {
        do {
            _ = try DeclaredFeature(name: bad.name, declaration: bad.declaration, defaults: RunPolicy())
            Issue.record("accepted: \(bad.declaration.jsonText)")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.message.contains(bad.message), "\(error.message)")
        }
    }

    @Test func aNameTakenByABuiltInFeatureIsRefused() throws {
        let clash = try DeclaredFeature(name: "document_summary", declaration: ["prompt_version": "v1"], defaults: RunPolicy())
        #expect(throws: KilnError.self) { try FeatureCatalog.builtIn.adding([clash]) }
        do {
            _ = try FeatureCatalog.builtIn.adding([clash])
        } catch {
            #expect(error.message.contains("features.document_summary: the name is already taken by a built-in feature"))
        }
    }

    let feature = DeclaredFeature(
        name: "support_reply", promptVersion: "support_reply/v1", policyOverrides: ["requires_review": true],
        allowedInputKeys: ["ticket_id"])
    let limits = InputLimits(maxInputChars: 40)

    struct BadInput: Sendable, CustomTestStringConvertible {
        let input: JSONValue
        let message: String
        var testDescription: String { message }
    }

    static let badInputs: [BadInput] = [
        BadInput(input: "Hello", message: "support_reply input must be a JSON object"),
        BadInput(input: ["instructions": "Be brief."], message: "support_reply input.input is required"),
        BadInput(input: ["input": 42], message: "support_reply input.input must be a string or a list of messages"),
        BadInput(input: ["input": "   "], message: "support_reply input.input is empty"),
        BadInput(input: ["input": []], message: "support_reply input.input is an empty list of messages"),
        BadInput(input: ["input": [["role": "customer", "content": "Hi"]]], message: "support_reply input.input[0].role must be one of"),
        BadInput(input: ["input": [["role": "user"]]], message: "support_reply input.input[0].content must be a string"),
        BadInput(
            input: ["input": [["role": "user", "content": "Hi", "name": "x"]]],
            message: "support_reply input.input[0] has unknown key \"name\""),
        BadInput(input: ["input": ["Hi"]], message: "support_reply input.input[0] must be an object"),
        BadInput(input: ["input": "Hi", "instructions": ["x"]], message: "support_reply input.instructions must be a string"),
        BadInput(input: ["input": "Hi", "customer": "x"], message: "support_reply input has unknown key \"customer\""),
        BadInput(
            input: ["input": "An input of more than forty characters in all."], message: "limits.max_input_chars is 40"),
        BadInput(
            input: ["instructions": "Thirty characters of instructions", "input": "and ten more"],
            message: "limits.max_input_chars is 40"),
    ]

    @Test(arguments: badInputs)
    func badInputIsRefusedWithTheKeyNamed(_ bad: BadInput) {
        do {
            try feature.validate(input: bad.input, limits: limits)
            Issue.record("accepted: \(bad.input.jsonText)")
        } catch {
            #expect(error.code == .invalidInput || error.code == .inputTooLarge)
            #expect(error.message.contains(bad.message), "\(error.message)")
        }
    }

    @Test func thePromptTheAppBuiltIsSentAsItIs() throws {
        let input: JSONValue = [
            "instructions": "Draft a reply.", "ticket_id": "T-9",
            "input": [["role": "developer", "content": "Tone: formal."], ["role": "user", "content": "Where is my order?"]],
        ]
        try feature.validate(input: input, limits: InputLimits())
        let policy = try FeatureCatalog([feature]).policy(feature: "support_reply", overrides: [:], defaults: RunPolicy())
        #expect(policy.requiresReview, "the feature's policy applies over the defaults")
        let runPolicy = try FeatureCatalog([feature]).policy(
            feature: "support_reply", overrides: ["requires_review": false], defaults: RunPolicy())
        #expect(!runPolicy.requiresReview, "a run's own policy still wins")
        let request = try feature.request(for: input, policy: policy)
        #expect(request.instructions == "Draft a reply.")
        #expect(
            request.input
                == .messages([
                    PromptMessage(role: .developer, content: "Tone: formal."), PromptMessage(role: .user, content: "Where is my order?"),
                ]))
        #expect(request.outputFormat == .text)
    }

    @Test func aFeatureWithASchemaAsksForStrictStructuredOutput() throws {
        let card = try DeclaredFeature(
            name: "product_card", declaration: ["prompt_version": "product_card/v2", "output_schema": Self.schema], defaults: RunPolicy())
        let request = try card.request(for: ["input": "A camera."], policy: RunPolicy())
        #expect(request.outputFormat == .jsonSchema(name: "product_card", schema: try OutputSchema(Self.schema, keyPath: "s")))
        #expect(request.instructions == nil)
    }
}
