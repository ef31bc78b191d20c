import Foundation
import KilnDomain
import Testing

@Suite("output schema")
struct OutputSchemaTests {
    static let keyPath = "features.product_card.output_schema"

    static let productCard = """
        {
          "type": "object",
          "title": "Product card",
          "properties": {
            "name": {"type": "string", "description": "Shown as the heading."},
            "price": {"type": "number", "minimum": 0, "multipleOf": 0.01},
            "currency": {"type": "string", "enum": ["EUR", "USD"]},
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"},
            "stock": {"type": "integer", "minimum": 0},
            "tagline": {"type": ["string", "null"]},
            "released": {"type": "string", "format": "date"},
            "id": {"type": "string", "format": "uuid"},
            "kind": {"const": "product"},
            "items": {
              "type": "array", "minItems": 1, "maxItems": 3,
              "items": {
                "type": "object",
                "properties": {"label": {"type": "string"}, "price": {"type": "number"}},
                "required": ["label", "price"],
                "additionalProperties": false
              }
            },
            "badge": {"anyOf": [{"type": "string", "format": "email"}, {"type": "integer", "exclusiveMaximum": 10}]},
            "category": {"$ref": "#/$defs/category"}
          },
          "required": ["name", "price", "currency", "sku", "stock", "tagline", "released", "id", "kind", "items", "badge", "category"],
          "additionalProperties": false,
          "$defs": {
            "category": {
              "type": "object",
              "properties": {"title": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/category"}}},
              "required": ["title", "children"],
              "additionalProperties": false
            }
          }
        }
        """

    static let goodCard = """
        {
          "name": "Kettle", "price": 19.99, "currency": "EUR", "sku": "KTL-42", "stock": 3, "tagline": null,
          "released": "2026-01-31", "id": "6F9619FF-8B86-4011-B42D-00C04FC964FF", "kind": "product",
          "items": [{"label": "base", "price": 19.99}], "badge": "team@example.com",
          "category": {"title": "Kitchen", "children": [{"title": "Kettles", "children": [{"title": "Electric", "children": []}]}]}
        }
        """

    static func json(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    static func schema(_ text: String) throws -> OutputSchema {
        try OutputSchema(json(text), keyPath: keyPath)
    }

    /// The product card with `change` applied to the good value's object.
    func violations(_ change: (inout [String: JSONValue]) -> Void) throws -> [String] {
        var card = try #require(Self.json(Self.goodCard).objectValue)
        change(&card)
        return try Self.schema(Self.productCard).violations(of: .object(card))
    }

    @Test func aProductCardSchemaIsAcceptedAndKeptAsDeclared() throws {
        let schema = try Self.schema(Self.productCard)
        #expect(schema.json == (try Self.json(Self.productCard)))
    }

    @Test func aMatchingValueHasNoViolations() throws {
        #expect(try violations { _ in } == [])
    }

    static let badSchemas: [(String, String)] = [
        (#"[1, 2]"#, "\(keyPath): the schema must be a JSON object"),
        (#"{"anyOf": [{"type": "object"}]}"#, "not \"anyOf\""),
        (#"{"type": "array", "items": {"type": "string"}}"#, "the root must have \"type\": \"object\""),
        (
            #"{"type": "object", "properties": {"price": {"type": "object", "properties": {}, "required": []}}, "required": ["price"], "additionalProperties": false}"#,
            "\(keyPath).properties.price: \"additionalProperties\" must be false"
        ),
        (#"{"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": false}"#, "\"a\" is missing"),
        (
            #"{"type": "object", "properties": {"a": {"type": "string", "minLength": 2}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: \"minLength\" is not supported"
        ),
        (
            #"{"type": "object", "properties": {"a": {"allOf": [{"type": "string"}]}}, "required": ["a"], "additionalProperties": false}"#,
            "\"allOf\" is not supported"
        ),
        (
            #"{"type": "object", "properties": {"a": {"oneOf": [{"type": "string"}]}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: \"oneOf\""
        ),
        (
            #"{"type": "object", "properties": {"a": {"type": "date"}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: \"type\" \"date\" is not supported"
        ),
        (#"{"type": "object", "properties": [], "additionalProperties": false}"#, "\"properties\" must be an object"),
        (
            #"{"type": "object", "properties": {"a": {"type": "string"}}, "required": "a", "additionalProperties": false}"#,
            "\"required\" must be an array of property names"
        ),
        (
            #"{"type": "object", "properties": {"a": {"enum": []}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: \"enum\" must be a non-empty array"
        ),
        (
            #"{"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: \"pattern\" must be a valid regular expression"
        ),
        (
            #"{"type": "object", "properties": {"a": {"type": "string", "format": "url"}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: \"format\" must be one of"
        ),
        (
            ##"{"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}, "required": ["a"], "additionalProperties": false}"##,
            "\(keyPath).properties.a: \"$ref\" \"#/$defs/missing\" names no definition"
        ),
        (
            #"{"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}, "required": ["a"], "additionalProperties": false}"#,
            "\"$ref\" must be \"#/$defs/NAME\""
        ),
        (
            #"{"type": "object", "properties": {"a": {"type": "array"}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: an array schema needs \"items\""
        ),
        (
            #"{"type": "object", "properties": {}, "required": ["ghost"], "additionalProperties": false}"#,
            "\"required\" names \"ghost\""
        ),
        (
            #"{"type": "object", "properties": {"a": {"type": "number", "pattern": "x"}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: \"pattern\" needs \"type\" \"string\""
        ),
        (
            #"{"type": "object", "properties": {"a": {"description": "no type"}}, "required": ["a"], "additionalProperties": false}"#,
            "\(keyPath).properties.a: a schema needs \"type\""
        ),
        (
            #"{"type": "object", "properties": {"a": {"type": "string", "default": "x"}}, "required": ["a"], "additionalProperties": false}"#,
            "\"default\" is not supported"
        ),
        (
            ##"{"type": "object", "properties": {"a": {"$ref": "#/$defs/loop"}}, "required": ["a"], "additionalProperties": false, "$defs": {"loop": {"anyOf": [{"$ref": "#/$defs/loop"}, {"type": "null"}]}}}"##,
            "\(keyPath).$defs.loop: \"$ref\" loops back"
        ),
    ]

    @Test("a schema strict mode would refuse is refused with the path and keyword named", arguments: Self.badSchemas)
    func refusals(schema: String, message: String) {
        #expect {
            try Self.schema(schema)
        } throws: { error in
            (error as? KilnError)?.code == .invalidConfiguration && (error as? KilnError)?.message.contains(message) == true
        }
    }

    @Test func schemasBeyondTheLimitsAreRefused() throws {
        func nested(_ depth: Int) -> String {
            depth == 0
                ? #"{"type": "string"}"#
                : #"{"type": "object", "properties": {"n": \#(nested(depth - 1))}, "required": ["n"], "additionalProperties": false}"#
        }
        #expect(throws: Never.self) { try Self.schema(nested(9)) }
        #expect { try Self.schema(nested(10)) } throws: { ($0 as? KilnError)?.message.contains("more than 10 levels of nesting") == true }

        let values = (0..<1001).map { "\"v\($0)\"" }.joined(separator: ",")
        let manyValues =
            #"{"type": "object", "properties": {"a": {"enum": [\#(values)]}}, "required": ["a"], "additionalProperties": false}"#
        #expect { try Self.schema(manyValues) } throws: { ($0 as? KilnError)?.message.contains("1001 enum values") == true }

        let names = (0..<5001).map { "p\($0)" }
        let properties = names.map { "\"\($0)\": {\"type\": \"boolean\"}" }.joined(separator: ",")
        let required = names.map { "\"\($0)\"" }.joined(separator: ",")
        let wide = #"{"type": "object", "properties": {\#(properties)}, "required": [\#(required)], "additionalProperties": false}"#
        #expect { try Self.schema(wide) } throws: { ($0 as? KilnError)?.message.contains("5001 object properties") == true }

        let long = String(repeating: "x", count: 120_001)
        let longConst = #"{"type": "object", "properties": {"a": {"const": "\#(long)"}}, "required": ["a"], "additionalProperties": false}"#
        #expect { try Self.schema(longConst) } throws: { ($0 as? KilnError)?.message.contains("characters, at most 120000") == true }
    }

    @Test func aWrongTypeIsNamedWithItsPath() throws {
        #expect(try violations { $0["price"] = "cheap" } == ["$.price: expected number, got string"])
        #expect(try violations { $0["tagline"] = 5 } == ["$.tagline: expected string or null, got number"])
    }

    @Test func aFractionalNumberIsNotAnInteger() throws {
        #expect(try violations { $0["stock"] = .number(2.5) } == ["$.stock: expected integer, got fractional number"])
        #expect(try violations { $0["stock"] = .number(2.0) } == [])
    }

    @Test func missingAndExtraPropertiesAreNamed() throws {
        #expect(try violations { $0["sku"] = nil } == ["$.sku: required property is missing"])
        #expect(try violations { $0["colour"] = "red" } == ["$.colour: property not allowed by the schema"])
        #expect(try violations { $0["two words"] = "red" } == [#"$["two words"]: property not allowed by the schema"#])
    }

    @Test func enumAndConstMissesAreNamed() throws {
        #expect(try violations { $0["currency"] = "GBP" } == [#"$.currency: not one of the "enum" values"#])
        #expect(try violations { $0["kind"] = "service" } == [#"$.kind: does not equal the "const" value"#])
    }

    @Test func nestedArrayItemsAreNamedByIndex() throws {
        let items: JSONValue = .array([["label": "a", "price": 1], ["label": "b", "price": 2], ["label": "c", "price": "3"]])
        #expect(try violations { $0["items"] = items } == ["$.items[2].price: expected number, got string"])
        #expect(try violations { $0["items"] = .array([]) } == ["$.items: expected at least 1 items, got 0"])
    }

    @Test func anyOfMatchesWhenOneBranchDoes() throws {
        #expect(try violations { $0["badge"] = 3 } == [])
        #expect(try violations { $0["badge"] = 12 } == [#"$.badge: matches none of the "anyOf" branches"#])
        #expect(try violations { $0["badge"] = "not-an-email" } == [#"$.badge: matches none of the "anyOf" branches"#])
    }

    @Test func recursiveReferencesAreFollowed() throws {
        let deep: JSONValue = ["title": "Kitchen", "children": .array([["title": "Kettles", "children": .array([["title": 7]])]])]
        #expect(
            try violations { $0["category"] = deep } == [
                "$.category.children[0].children[0].children: required property is missing",
                "$.category.children[0].children[0].title: expected string, got number",
            ])
    }

    @Test func patternsSearchUnanchoredLikeJSONSchema() throws {
        #expect(try violations { $0["sku"] = "ktl-42" } == ["$.sku: does not match the pattern ^[A-Z]{3}-[0-9]+$"])
        let unanchored = try Self.schema(
            #"{"type": "object", "properties": {"a": {"type": "string", "pattern": "[0-9]"}}, "required": ["a"], "additionalProperties": false}"#
        )
        #expect(unanchored.violations(of: ["a": "abc1def"]) == [])
        #expect(unanchored.violations(of: ["a": "abc"]) == ["$.a: does not match the pattern [0-9]"])
    }

    @Test func formatsAndBoundsAreChecked() throws {
        #expect(try violations { $0["released"] = "2026-02-30" } == ["$.released: not a valid date"])
        #expect(try violations { $0["id"] = "not-a-uuid" } == ["$.id: not a valid uuid"])
        #expect(try violations { $0["price"] = -1 } == ["$.price: must be ≥ 0"])
        #expect(try violations { $0["price"] = .number(1.234) } == ["$.price: must be a multiple of 0.01"])
        let times = try Self.schema(
            #"{"type": "object", "properties": {"at": {"type": "string", "format": "date-time"}, "ip": {"type": "string", "format": "ipv4"}}, "required": ["at", "ip"], "additionalProperties": false}"#
        )
        #expect(times.violations(of: ["at": "2026-01-01T10:00:00.250Z", "ip": "192.0.2.1"]) == [])
        #expect(
            times.violations(of: ["at": "2026-01-01", "ip": "256.1.1.1"]) == ["$.at: not a valid date-time", "$.ip: not a valid ipv4"])
    }

    @Test func atMostTenViolationsAreReported() throws {
        let found = try Self.schema(Self.productCard).violations(
            of: .object(Dictionary(uniqueKeysWithValues: (0..<20).map { ("x\($0)", .null) })))
        #expect(found.count == 10)
    }
}
