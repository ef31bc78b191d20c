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

    /// A number as schema text: `5`, not `5.0`.
    static func text(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
    }
}
