import Foundation

/// The JSON Schema a feature's output must satisfy, held to OpenAI's Structured Outputs strict mode.
///
/// Kiln sends ``json`` unchanged as `text.format = {type: "json_schema", name, schema, strict: true}`.
/// ``init(_:keyPath:)`` refuses at load time what the provider would refuse with a 400 on every
/// submit, and ``violations(of:)`` checks a model's answer against the same schema before the run
/// completes. Violations name JSON paths and expectations, never the output's values.
public struct OutputSchema: Sendable, Hashable {
    /// The schema as declared (sent to the provider unchanged).
    public let json: JSONValue

    /// Parses and checks that `json` is a schema Kiln can send in strict mode; errors name the key path,
    /// e.g. `features.product_card.output_schema.properties.price: "additionalProperties" must be false` —
    /// `keyPath` is the prefix ("features.product_card.output_schema").
    ///
    /// Besides the provider's rules, a `$ref` cycle that never passes through `properties` or `items`
    /// is refused: no finite value could satisfy it, and checking one would never end.
    public init(_ json: JSONValue, keyPath: String) throws(KilnError) {
        var audit = StrictModeAudit(root: json)
        try audit.checkRoot(path: keyPath)
        self.json = json
    }

    /// What in `value` does not satisfy the schema: empty when it matches. Each entry names a JSON path
    /// (`$.items[2].price: expected number, got string`), at most 10 entries.
    public func violations(of value: JSONValue) -> [String] {
        var check = InstanceCheck(root: json)
        check.check(value, against: json, path: "$", refChain: 0)
        return check.found
    }

    /// The definition a local `$ref` ("#/$defs/NAME" or "#/definitions/NAME") names in `root`, if any.
    static func definition(_ ref: String, in root: JSONValue) -> JSONValue? {
        for container in ["$defs", "definitions"] where ref.hasPrefix("#/\(container)/") {
            return root[container]?[String(ref.dropFirst(container.count + 3))]
        }
        return nil
    }

    /// Whether `text` is a valid instance of `format`; formats Kiln does not check are accepted.
    static func isValid(_ text: String, format: String) -> Bool {
        switch format {
        case "date-time":
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if formatter.date(from: text) != nil { return true }
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.date(from: text) != nil
        case "date":
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd"
            formatter.isLenient = false
            return text.utf8.count == 10 && formatter.date(from: text) != nil
        case "uuid":
            return UUID(uuidString: text) != nil
        case "email":
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
        case "ipv4":
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4
                && parts.allSatisfy { part in
                    (1...3).contains(part.count) && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
                        && (part == "0" || part.first != "0") && Int(part).map { $0 <= 255 } == true
                }
        default:
            return true
        }
    }

    /// A number as schema text: `5`, not `5.0`.
    static func text(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}

/// The strict-mode checks ``OutputSchema/init(_:keyPath:)`` makes, with the running totals the limits need.
private struct StrictModeAudit {
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

/// The check of one value against the schema that ``OutputSchema/violations(of:)`` runs; collects at most ``limit``.
private struct InstanceCheck {
    static let limit = 10
    /// How many `$ref`s may be followed at one place in the value before the check gives up on it.
    static let maxRefChain = 64

    let root: JSONValue
    var found: [String] = []

    mutating func check(_ value: JSONValue, against schemaValue: JSONValue, path: String, refChain: Int) {
        guard found.count < Self.limit, case .object(let schema) = schemaValue else { return }
        if case .string(let ref) = schema["$ref"] {
            guard refChain < Self.maxRefChain, let target = OutputSchema.definition(ref, in: root) else {
                return report(path, "schema references nest too deeply to check")
            }
            check(value, against: target, path: path, refChain: refChain + 1)
        }
        if case .array(let branches) = schema["anyOf"], !branches.contains(where: { matches(value, $0, path, refChain) }) {
            report(path, "matches none of the \"anyOf\" branches")
        }
        if case .array(let values) = schema["enum"], !values.contains(value) { report(path, "not one of the \"enum\" values") }
        if let constant = schema["const"], constant != value { report(path, "does not equal the \"const\" value") }
        if let type = schema["type"], !checkType(value, type, path: path) { return }
        switch value {
        case .object(let object): checkObject(object, schema, path: path)
        case .array(let items): checkArray(items, schema, path: path)
        case .string(let text): checkString(text, schema, path: path)
        case .number(let number): checkNumber(number, schema, path: path)
        case .bool, .null: break
        }
    }

    private func matches(_ value: JSONValue, _ schema: JSONValue, _ path: String, _ refChain: Int) -> Bool {
        var branch = InstanceCheck(root: root)
        branch.check(value, against: schema, path: path, refChain: refChain)
        return branch.found.isEmpty
    }

    private mutating func checkType(_ value: JSONValue, _ type: JSONValue, path: String) -> Bool {
        let names: [String]
        switch type {
        case .string(let name): names = [name]
        case .array(let list): names = list.compactMap(\.stringValue)
        default: return true
        }
        let actual: String
        switch value {
        case .null: actual = "null"
        case .bool: actual = "boolean"
        case .number(let number): actual = number.rounded() == number ? "integer" : "number"
        case .string: actual = "string"
        case .array: actual = "array"
        case .object: actual = "object"
        }
        if names.contains(actual) || (actual == "integer" && names.contains("number")) { return true }
        let got = actual == "integer" ? "number" : (actual == "number" && names.contains("integer") ? "fractional number" : actual)
        report(path, "expected \(names.joined(separator: " or ")), got \(got)")
        return false
    }

    private mutating func checkObject(_ object: [String: JSONValue], _ schema: [String: JSONValue], path: String) {
        let properties = schema["properties"]?.objectValue ?? [:]
        if case .array(let required) = schema["required"] {
            for case .string(let name) in required where object[name] == nil {
                report(Self.member(path, name), "required property is missing")
            }
        }
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            if let property = properties[name] {
                check(value, against: property, path: Self.member(path, name), refChain: 0)
            } else if schema["additionalProperties"] == .bool(false) {
                report(Self.member(path, name), "property not allowed by the schema")
            }
        }
    }

    private mutating func checkArray(_ items: [JSONValue], _ schema: [String: JSONValue], path: String) {
        if case .number(let least) = schema["minItems"], Double(items.count) < least {
            report(path, "expected at least \(OutputSchema.text(least)) items, got \(items.count)")
        }
        if case .number(let most) = schema["maxItems"], Double(items.count) > most {
            report(path, "expected at most \(OutputSchema.text(most)) items, got \(items.count)")
        }
        guard let itemSchema = schema["items"] else { return }
        for (index, item) in items.enumerated() { check(item, against: itemSchema, path: "\(path)[\(index)]", refChain: 0) }
    }

    private mutating func checkString(_ text: String, _ schema: [String: JSONValue], path: String) {
        if case .string(let pattern) = schema["pattern"], let regex = try? NSRegularExpression(pattern: pattern),
            regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil
        {
            report(path, "does not match the pattern \(pattern)")
        }
        if case .string(let format) = schema["format"], !OutputSchema.isValid(text, format: format) {
            report(path, "not a valid \(format)")
        }
    }

    private mutating func checkNumber(_ number: Double, _ schema: [String: JSONValue], path: String) {
        let bounds: [(String, String, (Double, Double) -> Bool)] = [
            ("minimum", "≥", (>=)), ("maximum", "≤", (<=)), ("exclusiveMinimum", ">", (>)), ("exclusiveMaximum", "<", (<)),
        ]
        for (key, symbol, holds) in bounds {
            if case .number(let bound) = schema[key], !holds(number, bound) {
                report(path, "must be \(symbol) \(OutputSchema.text(bound))")
            }
        }
        if case .number(let step) = schema["multipleOf"], step > 0 {
            let quotient = number / step
            if abs(quotient - quotient.rounded()) > 1e-9 * max(1, abs(quotient)) {
                report(path, "must be a multiple of \(OutputSchema.text(step))")
            }
        }
    }

    private mutating func report(_ path: String, _ problem: String) {
        if found.count < Self.limit { found.append("\(path): \(problem)") }
    }

    /// `path.name`, or `path["name"]` when the name is not a plain identifier.
    private static func member(_ path: String, _ name: String) -> String {
        let plain =
            name.first.map { $0.isLetter || $0 == "_" } == true
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        return plain ? "\(path).\(name)" : "\(path)[\(JSONValue.string(name).jsonText)]"
    }
}
