/// A feature an application declares in the configuration (`features.NAME`), whose prompt
/// the application builds in its own code, in any language.
///
/// Declaration keys: `prompt_version` (required), `policy` (overrides with the keys of the
/// top-level `policy`), `output_schema` (a JSON Schema sent in strict mode under the
/// feature's name), `allowed_input_keys` (keys of the app's own the run's input may carry
/// besides the prompt; kept on the row, never sent).
///
/// A run's input: `{"instructions": string (optional), "input": string | [{"role":
/// "system"|"developer"|"user"|"assistant", "content": string}, …]}`.
public struct DeclaredFeature: Feature, Hashable {
    public let name: String
    public let promptVersion: String
    public let policyOverrides: JSONValue
    public let outputSchema: OutputSchema?
    public let allowedInputKeys: Set<String>

    static let declarationKeys = ["allowed_input_keys", "output_schema", "policy", "prompt_version"]
    static let promptKeys: Set<String> = ["instructions", "input"]
    /// At most this many messages in one input.
    public static let maxMessages = 1000

    public init(
        name: String, promptVersion: String, policyOverrides: JSONValue = .object([:]), outputSchema: OutputSchema? = nil,
        allowedInputKeys: Set<String> = []
    ) {
        self.name = name
        self.promptVersion = promptVersion
        self.policyOverrides = policyOverrides
        self.outputSchema = outputSchema
        self.allowedInputKeys = allowedInputKeys
    }

    /// Parses `features.NAME` of the configuration; every error names the key. The policy
    /// overrides are checked against `defaults`.
    public init(name: String, declaration: JSONValue, defaults: RunPolicy) throws(KilnError) {
        let path = "features.\(name.prefix(64))"
        guard Self.isValidName(name) else {
            throw KilnError(
                .invalidConfiguration,
                "\(path): a feature name must be 1–64 characters of a-z, 0-9 and _, starting with a letter")
        }
        guard let object = declaration.objectValue else {
            throw KilnError(.invalidConfiguration, "\(path) must be an object with prompt_version, policy and output_schema")
        }
        for key in object.keys.sorted() where !Self.declarationKeys.contains(key) && !key.hasPrefix("_") {
            throw KilnError(
                .invalidConfiguration,
                "\(path) has unknown key \"\(key.prefix(64))\"; known keys: \(Self.declarationKeys.joined(separator: ", "))")
        }
        guard let version = object["prompt_version"]?.stringValue,
            (1...100).contains(version.count), !version.contains(where: \.isNewline)
        else {
            throw KilnError(.invalidConfiguration, "\(path).prompt_version is required: a string of 1–100 characters on one line")
        }
        let overrides = object["policy"] ?? .object([:])
        guard overrides.objectValue != nil else {
            throw KilnError(.invalidConfiguration, "\(path).policy must be an object of policy keys")
        }
        do {
            _ = try defaults.applying(overrides, prefix: "\(path).policy.")
        } catch {
            throw KilnError(.invalidConfiguration, error.message)
        }
        var schema: OutputSchema?
        if let value = object["output_schema"], value != .null {
            schema = try OutputSchema(value, keyPath: "\(path).output_schema")
        }
        var allowed: Set<String> = []
        if let value = object["allowed_input_keys"] {
            let keys = value.arrayValue?.compactMap(\.stringValue)
            guard let keys, keys.count == value.arrayValue?.count else {
                throw KilnError(.invalidConfiguration, "\(path).allowed_input_keys must be an array of strings")
            }
            for key in keys where Self.promptKeys.contains(key) || key.isEmpty || key.count > 64 {
                throw KilnError(
                    .invalidConfiguration,
                    "\(path).allowed_input_keys: \"\(key.prefix(64))\" must be 1–64 characters and not instructions or input")
            }
            allowed = Set(keys)
        }
        self.init(name: name, promptVersion: version, policyOverrides: overrides, outputSchema: schema, allowedInputKeys: allowed)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.unicodeScalars.count <= 64 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }

    public func validate(input: JSONValue, limits: InputLimits) throws(KilnError) {
        let (_, prompt) = try parse(input)
        let total = prompt.characterCount + (input.objectValue?["instructions"]?.stringValue?.count ?? 0)
        if total > limits.maxInputChars {
            throw KilnError(
                .inputTooLarge,
                "\(name) input has \(total) characters of instructions and input; limits.max_input_chars is \(limits.maxInputChars)")
        }
    }

    public func request(for input: JSONValue, policy: RunPolicy) throws(KilnError) -> GenerationRequest {
        let (instructions, prompt) = try parse(input)
        return GenerationRequest(
            model: policy.model, instructions: instructions, input: prompt, maxOutputTokens: policy.maxOutputTokens,
            completionWindow: policy.completionWindow, outputFormat: outputFormat)
    }

    private func parse(_ input: JSONValue) throws(KilnError) -> (String?, PromptInput) {
        guard let object = input.objectValue else {
            throw KilnError(.invalidInput, "\(name) input must be a JSON object with \"input\" and optional \"instructions\"")
        }
        for key in object.keys.sorted() where !Self.promptKeys.contains(key) && !allowedInputKeys.contains(key) {
            let known = (["input", "instructions"] + allowedInputKeys.sorted()).joined(separator: ", ")
            throw KilnError(.invalidInput, "\(name) input has unknown key \"\(key.prefix(64))\"; known keys: \(known)")
        }
        var instructions: String?
        if let value = object["instructions"], value != .null {
            guard let text = value.stringValue else {
                throw KilnError(.invalidInput, "\(name) input.instructions must be a string, got \(value.jsonText.prefix(40))")
            }
            instructions = text
        }
        switch object["input"] {
        case nil, .null?:
            throw KilnError(.invalidInput, "\(name) input.input is required: the prompt, a string or a list of messages")
        case .string(let text)?:
            if text.allSatisfy(\.isWhitespace) { throw KilnError(.invalidInput, "\(name) input.input is empty") }
            return (instructions, .text(text))
        case .array(let items)?:
            if items.isEmpty { throw KilnError(.invalidInput, "\(name) input.input is an empty list of messages") }
            if items.count > Self.maxMessages {
                throw KilnError(.invalidInput, "\(name) input.input has \(items.count) messages; at most \(Self.maxMessages)")
            }
            var messages: [PromptMessage] = []
            for (index, item) in items.enumerated() {
                messages.append(try message(item, at: "\(name) input.input[\(index)]"))
            }
            return (instructions, .messages(messages))
        case let value?:
            throw KilnError(.invalidInput, "\(name) input.input must be a string or a list of messages, got \(value.jsonText.prefix(40))")
        }
    }

    private func message(_ item: JSONValue, at path: String) throws(KilnError) -> PromptMessage {
        guard let object = item.objectValue else {
            throw KilnError(.invalidInput, "\(path) must be an object {\"role\": …, \"content\": …}")
        }
        for key in object.keys.sorted() where key != "role" && key != "content" {
            throw KilnError(.invalidInput, "\(path) has unknown key \"\(key.prefix(64))\"; known keys: role, content")
        }
        let roles = PromptMessage.Role.allCases.map(\.rawValue).joined(separator: ", ")
        guard let raw = object["role"]?.stringValue, let role = PromptMessage.Role(rawValue: raw) else {
            throw KilnError(.invalidInput, "\(path).role must be one of \(roles), got \((object["role"] ?? .null).jsonText.prefix(40))")
        }
        guard let content = object["content"]?.stringValue else {
            throw KilnError(.invalidInput, "\(path).content must be a string")
        }
        return PromptMessage(role: role, content: content)
    }
}
