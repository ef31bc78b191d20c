import KilnDomain
import SupportDeskApp
import Testing

@Suite("SupportReply, the app's feature")
struct SupportReplyTests {
    let feature = SupportReply(company: "Acme Widgets")
    let limits = InputLimits(maxInputChars: 100)

    @Test func aTicketBecomesInstructionsAndOneUserMessage() throws {
        let request = try feature.request(
            for: ["ticket_subject": "Late order", "customer_message": "Where is my order?"], policy: RunPolicy(maxOutputTokens: 800))
        #expect(request.instructions?.contains("support team of Acme Widgets") == true)
        #expect(request.instructions?.contains("Tone: friendly") == true, "friendly is the default tone")
        #expect(
            request.input
                == .messages([PromptMessage(role: .user, content: "Ticket subject: Late order\n\nCustomer message:\nWhere is my order?")]))
        #expect(request.maxOutputTokens == 800)
        #expect(request.outputFormat == .text)
    }

    @Test func everyDraftRequiresReviewAndStaysShort() throws {
        let catalog = try FeatureCatalog.builtIn.adding([feature])
        let policy = try catalog.policy(feature: "support_reply", overrides: [:], defaults: RunPolicy())
        #expect(policy.requiresReview)
        #expect(policy.maxOutputTokens == 800)
    }

    @Test(
        arguments: [
            ("hello", "support_reply input must be a JSON object"),
            (["customer_message": "hi"], "input.ticket_subject is required"),
            (["ticket_subject": "Hi", "customer_message": 42], "input.customer_message must be a string"),
            (["ticket_subject": "Hi", "customer_message": "hi", "tone": "rude"], "input.tone must be \"friendly\" or \"formal\""),
            (["ticket_subject": "Hi", "customer_message": "hi", "priority": "high"], "unknown key \"priority\""),
            (["ticket_subject": "Hi", "customer_message": .string(String(repeating: "a", count: 120))], "limits.max_input_chars is 100"),
        ] as [(JSONValue, String)])
    func inputItCannotWorkWithIsRefusedNamingTheKey(input: JSONValue, message: String) {
        #expect {
            try feature.validate(input: input, limits: limits)
        } throws: { error in
            (error as? KilnError)?.message.contains(message) == true
        }
    }
}
