import KilnDomain
import Testing

@Suite("Run policy")
struct PolicyTests {
    @Test func defaultsAreValid() throws {
        try RunPolicy().validate()
        try KilnConfiguration().validate()
    }

    @Test func overridesApplyAndShowInTheJSON() throws {
        let policy = try RunPolicy().applying([
            "model": "gpt-5", "max_output_tokens": 300, "completion_window": "2h", "deadline_seconds": 9000,
        ])
        #expect(policy.model == "gpt-5")
        #expect(policy.maxOutputTokens == 300)
        #expect(policy.completionWindow == .twoHours)
        #expect(policy.json["max_output_tokens"] == .number(300))
    }

    static let badPolicies: [(JSONValue, String)] = [
        (JSONValue.object(["max_output_tokens": 0]), "max_output_tokens"),
        (["max_output_tokens": "many"], "max_output_tokens"),
        (["deadline_seconds": -5], "deadline_seconds"),
        (["max_attempts": 99], "max_attempts"),
        (["completion_window": "1d"], "completion_window"),
        (["modle": "x"], "modle"),
        (["requires_review": "yes"], "requires_review"),
        (["model": ""], "model"),
        (["completion_window": "8h", "deadline_seconds": 60], "deadline_seconds"),
        (.string("fast"), "policy must be a JSON object"),
    ]

    @Test(
        "bad policy values name the key",
        arguments: Self.badPolicies)
    func refusals(overrides: JSONValue, named: String) {
        #expect {
            try RunPolicy().applying(overrides)
        } throws: { error in
            (error as? KilnError)?.message.contains(named) == true && (error as? KilnError)?.code == .invalidPolicy
        }
    }
}
