import Foundation

/// The check of one value against the schema that ``OutputSchema/violations(of:)`` runs; collects at most ``limit``.
struct InstanceCheck {
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
        if case .string(let format) = schema["format"], !Self.isValid(text, format: format) {
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

extension InstanceCheck {
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
}
