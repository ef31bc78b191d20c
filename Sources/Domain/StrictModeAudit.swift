import Foundation

/// The strict-mode checks ``OutputSchema/init(_:keyPath:)`` makes, with the running totals the limits need.
struct StrictModeAudit {
    static let keywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "$ref", "$defs", "definitions",
        "description", "title", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minItems", "maxItems",
    ]
    /// The keywords that only mean something for some types, and those types.
    static let keywordTypes: [String: Set<String>] = [
        "properties": ["object"], "required": ["object"], "additionalProperties": ["object"], "items": ["array"],
        "minItems": ["array"], "maxItems": ["array"], "pattern": ["string"], "format": ["string"],
        "minimum": ["number", "integer"], "maximum": ["number", "integer"], "exclusiveMinimum": ["number", "integer"],
        "exclusiveMaximum": ["number", "integer"], "multipleOf": ["number", "integer"],
    ]
    static let types: Set<String> = ["string", "number", "integer", "boolean", "object", "array", "null"]
    static let formats: Set<String> = ["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"]
    static let maxProperties = 5000
    static let maxNesting = 10
    static let maxEnumValues = 1000
    static let maxTextLength = 120_000

    let root: JSONValue
    var properties = 0
    var enumValues = 0
    var textLength = 0

    mutating func checkRoot(path: String) throws(KilnError) {
        guard case .object(let schema) = root else { throw refuse(path, "the schema must be a JSON object") }
        guard schema["anyOf"] == nil else { throw refuse(path, "the root must be type \"object\", not \"anyOf\"") }
        guard schema["type"] == .string("object") else { throw refuse(path, "the root must have \"type\": \"object\"") }
        for container in ["$defs", "definitions"] where schema[container] != nil {
            guard case .object(let definitions) = schema[container] else {
                throw refuse("\(path).\(container)", "must be an object of schemas")
            }
            for (name, definition) in definitions.sorted(by: { $0.key < $1.key }) {
                try check(definition, path: "\(path).\(container).\(name)", nesting: 1)
            }
            try checkRefCycles(definitions, container: container, path: path)
        }
        try check(root, path: path, nesting: 1, isRoot: true)
        guard properties <= Self.maxProperties else {
            throw refuse(path, "\(properties) object properties in total, at most \(Self.maxProperties) allowed")
        }
        guard enumValues <= Self.maxEnumValues else {
            throw refuse(path, "\(enumValues) enum values in total, at most \(Self.maxEnumValues) allowed")
        }
        guard textLength <= Self.maxTextLength else {
            throw refuse(path, "property names and enum/const values total \(textLength) characters, at most \(Self.maxTextLength)")
        }
    }

    private mutating func check(_ value: JSONValue, path: String, nesting: Int, isRoot: Bool = false) throws(KilnError) {
        guard nesting <= Self.maxNesting else { throw refuse(path, "more than \(Self.maxNesting) levels of nesting") }
        guard case .object(let schema) = value else { throw refuse(path, "a schema must be a JSON object") }
        if let key = schema.keys.sorted().first(where: { !Self.keywords.contains($0) }) {
            throw refuse(path, "\"\(key)\" is not supported in strict mode")
        }
        if !isRoot, let key = ["$defs", "definitions"].first(where: { schema[$0] != nil }) {
            throw refuse(path, "\"\(key)\" is only allowed at the root")
        }
        guard ["type", "anyOf", "$ref", "enum", "const"].contains(where: { schema[$0] != nil }) else {
            throw refuse(path, "a schema needs \"type\", \"anyOf\", \"$ref\", \"enum\" or \"const\"")
        }
        let types = try typeNames(schema["type"], path: path)
        for (key, wanted) in Self.keywordTypes.sorted(by: { $0.key < $1.key }) where schema[key] != nil && types.isDisjoint(with: wanted) {
            throw refuse(path, "\"\(key)\" needs \"type\" \(wanted.sorted().map { "\"\($0)\"" }.joined(separator: " or "))")
        }
        if types.contains("object") { try checkObject(schema, path: path, nesting: nesting) }
        if types.contains("array") { try checkArray(schema, path: path, nesting: nesting) }
        try checkValues(schema, path: path)
        try checkString(schema, path: path)
        for key in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] where schema[key] != nil {
            guard case .number(let number) = schema[key] else { throw refuse(path, "\"\(key)\" must be a number") }
            guard key != "multipleOf" || number > 0 else { throw refuse(path, "\"multipleOf\" must be greater than 0") }
        }
        if let anyOf = schema["anyOf"] {
            guard case .array(let branches) = anyOf, !branches.isEmpty else { throw refuse(path, "\"anyOf\" must be a non-empty array") }
            for (index, branch) in branches.enumerated() { try check(branch, path: "\(path).anyOf[\(index)]", nesting: nesting) }
        }
        if let ref = schema["$ref"] {
            guard case .string(let text) = ref, text.hasPrefix("#/$defs/") || text.hasPrefix("#/definitions/") else {
                throw refuse(path, "\"$ref\" must be \"#/$defs/NAME\" or \"#/definitions/NAME\"")
            }
            guard OutputSchema.definition(text, in: root) != nil else { throw refuse(path, "\"$ref\" \"\(text)\" names no definition") }
        }
    }

    private func typeNames(_ type: JSONValue?, path: String) throws(KilnError) -> Set<String> {
        let names: [JSONValue]
        switch type {
        case nil: return []
        case .string: names = [type!]
        case .array(let list) where !list.isEmpty: names = list
        default: throw refuse(path, "\"type\" must be a type name or a non-empty array of them")
        }
        var result: Set<String> = []
        for name in names {
            guard case .string(let text) = name, Self.types.contains(text) else {
                throw refuse(path, "\"type\" \(name.jsonText) is not supported; use \(Self.types.sorted().joined(separator: ", "))")
            }
            result.insert(text)
        }
        return result
    }

    private mutating func checkObject(_ schema: [String: JSONValue], path: String, nesting: Int) throws(KilnError) {
        var properties: [String: JSONValue] = [:]
        if let value = schema["properties"] {
            guard case .object(let object) = value else { throw refuse(path, "\"properties\" must be an object") }
            properties = object
        }
        guard schema["additionalProperties"] == .bool(false) else { throw refuse(path, "\"additionalProperties\" must be false") }
        var required: Set<String> = []
        if let value = schema["required"] {
            guard case .array(let list) = value else { throw refuse(path, "\"required\" must be an array of property names") }
            for entry in list {
                guard case .string(let name) = entry else { throw refuse(path, "\"required\" must be an array of property names") }
                guard properties[name] != nil else { throw refuse(path, "\"required\" names \"\(name)\", which is not in \"properties\"") }
                required.insert(name)
            }
        }
        for (name, property) in properties.sorted(by: { $0.key < $1.key }) {
            guard required.contains(name) else { throw refuse(path, "\"required\" must list every property; \"\(name)\" is missing") }
            self.properties += 1
            textLength += name.count
            try check(property, path: "\(path).properties.\(name)", nesting: nesting + 1)
        }
    }

    private mutating func checkArray(_ schema: [String: JSONValue], path: String, nesting: Int) throws(KilnError) {
        guard let items = schema["items"] else { throw refuse(path, "an array schema needs \"items\"") }
        try check(items, path: "\(path).items", nesting: nesting + 1)
        var bounds: [Double] = []
        for key in ["minItems", "maxItems"] where schema[key] != nil {
            guard case .number(let count) = schema[key], count >= 0, count.rounded() == count else {
                throw refuse(path, "\"\(key)\" must be a non-negative integer")
            }
            bounds.append(count)
        }
        if bounds.count == 2, bounds[0] > bounds[1] { throw refuse(path, "\"minItems\" is greater than \"maxItems\"") }
    }

    private mutating func checkValues(_ schema: [String: JSONValue], path: String) throws(KilnError) {
        if let value = schema["enum"] {
            guard case .array(let values) = value, !values.isEmpty else { throw refuse(path, "\"enum\" must be a non-empty array") }
            enumValues += values.count
            textLength += values.reduce(0) { $0 + Self.length($1) }
        }
        if let value = schema["const"] { textLength += Self.length(value) }
    }

    private func checkString(_ schema: [String: JSONValue], path: String) throws(KilnError) {
        if let value = schema["pattern"] {
            guard case .string(let pattern) = value, (try? NSRegularExpression(pattern: pattern)) != nil else {
                throw refuse(path, "\"pattern\" must be a valid regular expression")
            }
        }
        if let value = schema["format"] {
            guard case .string(let format) = value, Self.formats.contains(format) else {
                throw refuse(path, "\"format\" must be one of \(Self.formats.sorted().joined(separator: ", "))")
            }
        }
    }

    /// Refuses a definition that reaches itself through `$ref` and `anyOf` alone, without a value level in between.
    private func checkRefCycles(_ definitions: [String: JSONValue], container: String, path: String) throws(KilnError) {
        func refs(_ schema: JSONValue?) -> [String] {
            var found: [String] = []
            if case .string(let ref) = schema?["$ref"] { found.append(ref) }
            if case .array(let branches) = schema?["anyOf"] { found += branches.flatMap { refs($0) } }
            return found
        }
        for name in definitions.keys.sorted() {
            let start = "#/\(container)/\(name)"
            var seen: Set<String> = []
            var pending = refs(definitions[name])
            while let ref = pending.popLast() {
                guard ref != start else {
                    throw refuse("\(path).\(container).\(name)", "\"$ref\" loops back without a property or item in between")
                }
                if seen.insert(ref).inserted { pending += refs(OutputSchema.definition(ref, in: root)) }
            }
        }
    }

    private static func length(_ value: JSONValue) -> Int {
        if case .string(let text) = value { return text.count }
        return value.jsonText.count
    }

    private func refuse(_ path: String, _ problem: String) -> KilnError {
        KilnError(.invalidConfiguration, "\(path): \(problem)")
    }
}
