import Foundation
import KilnDomain
import Testing

@testable import KilnSimulator

/// The simulator's generated instances checked by Kiln's own validator: each half checks the other.
@Suite("simulated structured output")
struct SchemaInstanceTests {
    static let seed = "[sim:fast] Kettle with a steel body and a blue lid"

    static let schemas: [(String, String)] = [
        (
            "nested objects",
            #"""
            {"type": "object", "additionalProperties": false, "required": ["product"],
             "properties": {"product": {"type": "object", "additionalProperties": false, "required": ["name", "maker"],
               "properties": {"name": {"type": "string"},
                 "maker": {"type": "object", "additionalProperties": false, "required": ["city"],
                   "properties": {"city": {"type": "string"}}}}}}}
            """#
        ),
        (
            "arrays with minItems and maxItems",
            #"""
            {"type": "object", "additionalProperties": false, "required": ["tags", "none", "pair"],
             "properties": {"tags": {"type": "array", "minItems": 3, "items": {"type": "string"}},
               "none": {"type": "array", "maxItems": 0, "items": {"type": "boolean"}},
               "pair": {"type": "array", "minItems": 2, "maxItems": 2,
                 "items": {"type": "object", "additionalProperties": false, "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}}}}
            """#
        ),
        (
            "enums, const and nullable types",
            #"""
            {"type": "object", "additionalProperties": false, "required": ["currency", "kind", "tagline", "rank"],
             "properties": {"currency": {"type": "string", "enum": ["EUR", "USD"]}, "kind": {"const": "product"},
               "tagline": {"type": ["null", "string"]}, "rank": {"anyOf": [{"type": "integer", "minimum": 5}, {"type": "null"}]}}}
            """#
        ),
        (
            "$defs and recursive $ref",
            ##"""
            {"type": "object", "additionalProperties": false, "required": ["tree", "list", "maybe"],
             "properties": {"tree": {"$ref": "#/$defs/node"}, "list": {"$ref": "#/definitions/link"},
               "maybe": {"anyOf": [{"$ref": "#/definitions/link"}, {"type": "null"}]}},
             "$defs": {"node": {"type": "object", "additionalProperties": false, "required": ["label", "children"],
               "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
             "definitions": {"link": {"type": ["object", "null"], "additionalProperties": false, "required": ["value", "next"],
               "properties": {"value": {"type": "integer"}, "next": {"$ref": "#/definitions/link"}}}}}
            """##
        ),
        (
            "number bounds and multipleOf",
            #"""
            {"type": "object", "additionalProperties": false, "required": ["a", "b", "c", "d", "e", "f"],
             "properties": {"a": {"type": "integer", "minimum": 10, "maximum": 20},
               "b": {"type": "integer", "exclusiveMinimum": 10, "multipleOf": 7},
               "c": {"type": "integer", "exclusiveMaximum": -3}, "d": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
               "e": {"type": "number", "minimum": 2.5, "multipleOf": 0.25}, "f": {"type": "integer", "minimum": 4, "maximum": 4}}}
            """#
        ),
        (
            "formats",
            #"""
            {"type": "object", "additionalProperties": false, "required": ["at", "on", "id", "mail", "ip", "host"],
             "properties": {"at": {"type": "string", "format": "date-time"}, "on": {"type": "string", "format": "date"},
               "id": {"type": "string", "format": "uuid"}, "mail": {"type": "string", "format": "email"},
               "ip": {"type": "string", "format": "ipv4"}, "host": {"type": "string", "format": "hostname"}}}
            """#
        ),
    ]

    static func foundation(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    static func instance(_ schemaText: String, seed: String = seed) throws -> JSONValue {
        let schema = try foundation(schemaText)
        let value = SchemaInstance.make(for: schema, root: schema, seedText: seed)
        let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed])
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    @Test("a generated instance satisfies its schema", arguments: Self.schemas)
    func instancesAreValid(name: String, schemaText: String) throws {
        let schema = try OutputSchema(JSONDecoder().decode(JSONValue.self, from: Data(schemaText.utf8)), keyPath: name)
        #expect(schema.violations(of: try Self.instance(schemaText)) == [])
        #expect(SchemaInstance.strictModeProblem(try Self.foundation(schemaText), name: "card") == nil)
    }

    @Test func stringsComeFromTheInputWithoutSimulatorMarkers() throws {
        let value = try Self.instance(Self.schemas[0].1)
        #expect(value["product"]?["name"] == "Kettle with a steel body and")
        #expect(try Self.instance(Self.schemas[0].1) == value)
        #expect(try Self.instance(Self.schemas[5].1)["id"] != (try Self.instance(Self.schemas[5].1, seed: "other"))["id"])
    }

    @Test func recursionEndsAtANullTypeOrAnEmptyArray() throws {
        let value = try Self.instance(Self.schemas[3].1)
        #expect(value["tree"]?["children"]?[index: 0]?["children"]?[index: 0]?["children"] == .array([]))
        #expect(value["list"]?["next"]?["value"] == 1)
        #expect(value["list"]?["next"]?["next"] == .null)
        #expect(value["maybe"] == .null, "anyOf prefers the branch that does not recurse")
    }

    static let badSchemas: [(String, String)] = [
        (#"{"type": "array", "items": {"type": "string"}}"#, "schema must be a JSON Schema of 'type: \"object\"'"),
        (
            #"{"type": "object", "required": ["a"], "properties": {"a": {"type": "object", "required": [], "properties": {}}}, "additionalProperties": false}"#,
            "In context=('properties', 'a'), 'additionalProperties' is required to be supplied and to be false."
        ),
        (
            #"{"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "additionalProperties": false}"#,
            "In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'."
        ),
        (
            #"{"type": "object", "required": ["a"], "properties": {"a": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": false}}}, "additionalProperties": false}"#,
            "In context=('properties', 'a', 'items'), 'required'"
        ),
    ]

    @Test("a schema strict mode refuses gets OpenAI's 400 message", arguments: Self.badSchemas)
    func strictModeProblems(schemaText: String, message: String) throws {
        let problem = SchemaInstance.strictModeProblem(try JSONSerialization.jsonObject(with: Data(schemaText.utf8)), name: "card")
        #expect(problem?.hasPrefix("Invalid schema for response_format 'card': ") == true)
        #expect(problem?.contains(message) == true)
    }
}

extension JSONValue {
    /// The item at `index` of an array, for reading nested test values.
    fileprivate subscript(index index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }
}
