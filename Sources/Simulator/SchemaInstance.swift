import Foundation

/// A value that satisfies a strict-mode JSON schema: what the simulator "generates".
///
/// Every object gets every property (strict mode requires them all), arrays get `max(minItems, 1)`
/// items capped by `maxItems`, enums their first value. Limitation: a string with a `pattern` is
/// the ordinary phrase, which need not match the pattern — the simulator does not invert regular
/// expressions, so a test that needs a matching string must use `enum` or `const` instead.
enum SchemaInstance {
    /// How many `$ref`s deep a recursive schema is expanded before choosing a branch that ends it.
    static let recursionDepth = 3

    /// A JSON value (Foundation types: [String: Any], [Any], String, NSNumber/Int/Double, Bool, NSNull) for `schema`,
    /// resolving local $ref against `root`; `seedText` (the request's input) makes strings deterministic and related to the input.
    static func make(for schema: [String: Any], root: [String: Any], seedText: String) -> Any {
        Builder(root: root, seedText: seedText).value(for: schema, refDepth: 0)
    }

    /// The 400 message OpenAI gives for a schema strict mode refuses ("Invalid schema for response_format 'NAME': …"),
    /// or nil when the root is an object schema and every object has `additionalProperties: false` and lists all its
    /// properties in `required`. The simulator checks only these three rules, the ones a hand-written schema breaks most.
    static func strictModeProblem(_ schema: Any, name: String) -> String? {
        let prefix = "Invalid schema for response_format '\(name)': "
        guard let root = schema as? [String: Any], root["type"] as? String == "object" else {
            let type = ((schema as? [String: Any])?["type"]).map { "\($0)" } ?? "None"
            return prefix + "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"\(type)\"'."
        }
        return objectProblem(root, context: []).map { prefix + $0 }
    }

    private static func objectProblem(_ schema: [String: Any], context: [String]) -> String? {
        let types = (schema["type"] as? [Any]).map { $0.compactMap { $0 as? String } } ?? [schema["type"] as? String].compactMap { $0 }
        if types.contains("object") || schema["properties"] != nil {
            let place = "In context=\(pythonTuple(context)), "
            guard schema["additionalProperties"] as? Bool == false else {
                return place + "'additionalProperties' is required to be supplied and to be false."
            }
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            let required = Set((schema["required"] as? [Any] ?? []).compactMap { $0 as? String })
            if let missing = properties.keys.sorted().first(where: { !required.contains($0) }) {
                return place
                    + "'required' is required to be supplied and to be an array including every key in properties. Missing '\(missing)'."
            }
        }
        var children: [([String], Any)] = []
        for (key, value) in ((schema["properties"] as? [String: Any]) ?? [:]).sorted(by: { $0.key < $1.key }) {
            children.append((context + ["properties", key], value))
        }
        if let items = schema["items"] { children.append((context + ["items"], items)) }
        for (index, branch) in (schema["anyOf"] as? [Any] ?? []).enumerated() {
            children.append((context + ["anyOf", String(index)], branch))
        }
        for container in ["$defs", "definitions"] {
            for (key, value) in ((schema[container] as? [String: Any]) ?? [:]).sorted(by: { $0.key < $1.key }) {
                children.append((context + [container, key], value))
            }
        }
        for (path, child) in children {
            if let child = child as? [String: Any], let problem = objectProblem(child, context: path) { return problem }
        }
        return nil
    }

    /// `('properties', 'price')`, `('items',)` or `()`: how OpenAI's errors spell a place in the schema.
    private static func pythonTuple(_ parts: [String]) -> String {
        let quoted = parts.map { "'\($0)'" }
        return quoted.count == 1 ? "(\(quoted[0]),)" : "(\(quoted.joined(separator: ", ")))"
    }
}

/// The walk behind ``SchemaInstance/make(for:root:seedText:)``.
private struct Builder {
    /// Past this many `$ref`s a schema with no way to end gets null (invalid, but the walk stops).
    static let hardStop = 12

    let root: [String: Any]
    let phrase: String
    let seed: UInt64

    init(root: [String: Any], seedText: String) {
        self.root = root
        let words = seedText.split(whereSeparator: \.isWhitespace).filter { !$0.hasPrefix("[sim:") }.prefix(6)
        phrase = words.isEmpty ? "generated text" : words.joined(separator: " ")
        seed = SeededRandom.hash(seedText)
    }

    func value(for schema: [String: Any], refDepth: Int) -> Any {
        let deep = refDepth >= SchemaInstance.recursionDepth
        if let ref = schema["$ref"] as? String {
            guard refDepth < Self.hardStop, let target = definition(ref) else { return NSNull() }
            return value(for: target, refDepth: refDepth + 1)
        }
        if let values = schema["enum"] as? [Any], let first = values.first { return first }
        if let constant = schema["const"] { return constant }
        if let branches = (schema["anyOf"] as? [Any])?.compactMap({ $0 as? [String: Any] }), !branches.isEmpty {
            let null = branches.first { $0["type"] as? String == "null" }
            let chosen = (deep ? null : nil) ?? branches.first { !refersOut($0) } ?? branches[0]
            return value(for: chosen, refDepth: refDepth)
        }
        let types = (schema["type"] as? [Any])?.compactMap { $0 as? String } ?? [schema["type"] as? String ?? "object"]
        if deep, types.contains("null") { return NSNull() }
        switch types.first(where: { $0 != "null" }) ?? "null" {
        case "object":
            let properties = (schema["properties"] as? [String: Any]) ?? [:]
            return properties.mapValues { value(for: $0 as? [String: Any] ?? [:], refDepth: refDepth) }
        case "array":
            let least = schema["minItems"] as? Int ?? 0
            if deep, least == 0 { return [Any]() }
            let count = min(max(least, 1), schema["maxItems"] as? Int ?? Int.max)
            let items = schema["items"] as? [String: Any] ?? [:]
            return (0..<count).map { _ in value(for: items, refDepth: refDepth) }
        case "string": return string(format: schema["format"] as? String)
        case "integer": return integer(schema)
        case "number": return number(schema)
        case "boolean": return true
        default: return NSNull()
        }
    }

    private func definition(_ ref: String) -> [String: Any]? {
        for container in ["$defs", "definitions"] where ref.hasPrefix("#/\(container)/") {
            return (root[container] as? [String: Any])?[String(ref.dropFirst(container.count + 3))] as? [String: Any]
        }
        return nil
    }

    /// Whether `schema` contains a `$ref` anywhere: a branch that may recurse.
    private func refersOut(_ schema: Any) -> Bool {
        if let object = schema as? [String: Any] { return object["$ref"] != nil || object.values.contains { refersOut($0) } }
        if let list = schema as? [Any] { return list.contains { refersOut($0) } }
        return false
    }

    private func string(format: String?) -> String {
        switch format {
        case "date-time": return "2026-01-01T00:00:00Z"
        case "date": return "2026-01-01"
        case "time": return "00:00:00Z"
        case "duration": return "P1D"
        case "email": return "someone@example.com"
        case "hostname": return "example.com"
        case "ipv4": return "192.0.2.1"
        case "ipv6": return "2001:db8::1"
        case "uuid":
            let hex = String(format: "%016llx%016llx", seed, SeededRandom.hash(phrase))
            let digits = Array(hex)
            let version = String(digits[0..<12]) + "4" + String(digits[13..<16]) + "8" + String(digits[17..<32])
            let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in String(Array(version)[range]) }
            return parts.joined(separator: "-")
        default: return phrase
        }
    }

    /// The smallest integer the bounds allow at or above 1 (or the largest below it), on a `multipleOf` step.
    private func integer(_ schema: [String: Any]) -> Int {
        func bound(_ key: String, _ rule: FloatingPointRoundingRule, _ shift: Int) -> Int? {
            (schema[key] as? Double).map { Int(min(max($0.rounded(rule), -1e15), 1e15)) + shift }
        }
        let low = max(bound("minimum", .up, 0) ?? Int.min, bound("exclusiveMinimum", .down, 1) ?? Int.min)
        let high = min(bound("maximum", .down, 0) ?? Int.max, bound("exclusiveMaximum", .up, -1) ?? Int.max)
        var candidate = min(max(1, low), high)
        if let step = schema["multipleOf"] as? Double, step >= 1, step.rounded() == step {
            let step = Int(step)
            let up = Int((Double(candidate) / Double(step)).rounded(.up)) * step
            candidate = up <= high ? up : Int((Double(candidate) / Double(step)).rounded(.down)) * step
        }
        return candidate
    }

    /// A number strictly inside the bounds (their midpoint when both are given), on a `multipleOf` step when one fits.
    private func number(_ schema: [String: Any]) -> Double {
        let low = [schema["minimum"], schema["exclusiveMinimum"]].compactMap { $0 as? Double }.max()
        let high = [schema["maximum"], schema["exclusiveMaximum"]].compactMap { $0 as? Double }.min()
        var candidate: Double
        switch (low, high) {
        case (let low?, let high?): candidate = (low + high) / 2
        case (let low?, nil): candidate = low + 1
        case (nil, let high?): candidate = high - 1
        case (nil, nil): candidate = 1
        }
        if let step = schema["multipleOf"] as? Double, step > 0 {
            let onStep = (candidate / step).rounded() * step
            let fits =
                low.map { onStep > $0 || (onStep == $0 && schema["exclusiveMinimum"] == nil) } != false
                && high.map { onStep < $0 || (onStep == $0 && schema["exclusiveMaximum"] == nil) } != false
            if fits { candidate = onStep }
        }
        return candidate
    }
}
