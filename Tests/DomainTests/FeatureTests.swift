import KilnDomain
import Testing

@Suite("document_summary")
struct FeatureTests {
    let feature = DocumentSummary()
    let limits = InputLimits(maxInputChars: 50, maxDocumentChars: 50)

    @Test func buildsARequestFromTheInputAndPolicy() throws {
        let request = try feature.request(
            for: ["text": "The report.", "length": "long", "audience": "board"],
            policy: RunPolicy(model: "gpt-5", maxOutputTokens: 500, completionWindow: .eightHours))
        #expect(request.model == "gpt-5")
        #expect(request.input == .text("The report."))
        #expect(request.instructions?.contains("board") == true)
        #expect(request.instructions?.contains("headings") == true)
        #expect(request.maxOutputTokens == 500)
        #expect(request.completionWindow == .eightHours)
    }

    static let badInputs: [(JSONValue, String)] = [
        (JSONValue.object([:]), "input.text is required"),
        (["text": 5], "input.text must be a string"),
        (["text": "   "], "input.text is empty"),
        (["text": "ok", "length": "epic"], "input.length"),
        (["text": "ok", "tone": "dry"], "unknown key \"tone\""),
        (["text": .string(String(repeating: "a", count: 51))], "limits.max_document_chars is 50"),
        (.array([]), "must be a JSON object"),
    ]

    @Test(
        "bad input is refused with the key named",
        arguments: Self.badInputs)
    func refusals(input: JSONValue, message: String) {
        #expect {
            try feature.validate(input: input, limits: limits)
        } throws: { error in
            (error as? KilnError)?.message.contains(message) == true
        }
    }

    @Test func unknownFeaturesAreRefusedWithTheKnownOnesListed() {
        #expect {
            try FeatureCatalog.builtIn.feature(named: "translate")
        } throws: { error in
            (error as? KilnError)?.code == .unknownFeature
                && (error as? KilnError)?.message.contains("document_summary") == true
        }
    }
}
