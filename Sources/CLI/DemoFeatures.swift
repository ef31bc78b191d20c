import KilnDomain

/// The demo's declared features, as an app would declare them under `features` in
/// `config/kiln.json`, and the prompts the demo builds for them as an app would in its own code.
enum DemoFeatures {
    static let supportReply = "support_reply"
    static let productCard = "product_card"

    static let declarations: [String: JSONValue] = [
        supportReply: ["prompt_version": "support_reply/v1", "policy": ["requires_review": true, "max_output_tokens": 800]],
        productCard: [
            "prompt_version": "product_card/v2",
            "output_schema": [
                "type": "object", "additionalProperties": false, "required": ["title", "tagline", "bullets", "price_cents"],
                "properties": [
                    "title": ["type": "string"], "tagline": ["type": "string"],
                    "bullets": ["type": "array", "items": ["type": "string"], "minItems": 2, "maxItems": 4],
                    "price_cents": ["type": "integer", "minimum": 0],
                ],
            ],
        ],
    ]

    /// `configuration` with the demo's features, unless it declares features of those names.
    static func adding(to configuration: KilnConfiguration) throws -> KilnConfiguration {
        var configuration = configuration
        let missing = declarations.keys.sorted().filter { (try? configuration.features.feature(named: $0)) == nil }
        configuration.features = try configuration.features.adding(
            missing.map { name throws(KilnError) in
                try DeclaredFeature(name: name, declaration: declarations[name]!, defaults: configuration.policy)
            })
        return configuration
    }

    static func supportReplyPrompt(ticket: Int) -> JSONValue {
        let messages = [
            "My invoice for March was charged twice. Can you refund one of them?",
            "The export to CSV has been spinning for an hour. Is something down?",
            "How do I add a second admin to our workspace?",
        ]
        return [
            "instructions": "You draft replies for the Acme support team. Answer the customer's question; never promise refunds.",
            "input": [
                ["role": "developer", "content": "Tone: friendly. Sign as \"The Acme team\"."],
                ["role": "user", "content": .string("Ticket #\(ticket): \(messages[ticket % messages.count])")],
            ],
        ]
    }

    static func productCardPrompt(product: Int) -> JSONValue {
        let notes = [
            "Walnut standing desk, 120 x 60 cm, electric, two memory presets, 10-year warranty.",
            "Brass reading lamp, dimmable LED, fabric cable, made in Porto.",
            "Merino wool throw, 130 x 170 cm, undyed, machine washable at 30 degrees.",
        ]
        return [
            "instructions": "Write a product card for our online shop from the product notes. Keep every figure exact.",
            "input": .string("Product \(product): \(notes[product % notes.count])"),
        ]
    }
}
