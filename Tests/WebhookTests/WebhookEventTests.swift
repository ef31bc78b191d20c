import KilnDomain
import KilnWebhooks
import Testing

@Suite("Webhook event bodies")
struct WebhookEventTests {
    func parse(_ json: String) -> WebhookEvent? {
        WebhookEvent.parse(Array(json.utf8))
    }

    @Test func theSDKPayloadIsACompletedResponse() throws {
        let event = try #require(WebhookEvent.parse(WebhookVector.sdk.payload))
        #expect(event.id == "evt_685c059ae3a481909bdc86819b066fb6")
        #expect(event.type == "response.completed")
        #expect(event.createdAt == 1_750_861_210)
        #expect(event.responseID == ResponseID("resp_123"))
        #expect(event.isResponseEvent)
    }

    @Test(arguments: ["response.completed", "response.failed", "response.cancelled", "response.incomplete"])
    func eachResponseEventNamesTheResponseWithoutObject(type: String) throws {
        let event = try #require(parse(#"{"id":"evt_1","type":"\#(type)","created_at":1750287018,"data":{"id":"resp_abc123"}}"#))
        #expect(event.responseID == ResponseID("resp_abc123"))
        #expect(event.isResponseEvent)
    }

    @Test func unknownTypesAndExtraFieldsParseButAreNotResponseEvents() throws {
        let json =
            #"{"object":"event","id":"evt_2","type":"batch.completed","created_at":1,"data":{"id":"batch_9","extra":[1]},"more":true}"#
        let event = try #require(parse(json))
        #expect(event.type == "batch.completed")
        #expect(!event.isResponseEvent)
        #expect(event.responseID == nil)
    }

    @Test(arguments: [
        "not json",
        "[]",
        #""evt_1""#,
        #"{"id":"evt_1","type":"response.completed","created_at":1,"data":{}}"#,
        #"{"id":"evt_1","type":"response.completed","created_at":1}"#,
        #"{"id":"evt_1","type":"response.completed","created_at":1,"data":"resp_1"}"#,
        #"{"id":"evt_1","type":"response.completed","created_at":1,"data":{"id":7}}"#,
        #"{"id":"evt_1","type":"response.completed","created_at":"1","data":{"id":"resp_1"}}"#,
        #"{"id":"evt_1","type":"response.completed","created_at":1.5,"data":{"id":"resp_1"}}"#,
        #"{"type":"response.completed","created_at":1,"data":{"id":"resp_1"}}"#,
        #"{"id":"evt_1","created_at":1,"data":{"id":"resp_1"}}"#,
        #"{"id":"evt_1","type":"response.completed","created_at":1,"data":{"id":"resp_1"}"#,
    ])
    func malformedBodiesAreNil(json: String) {
        #expect(parse(json) == nil)
    }

    @Test func nonUTF8BytesAreNil() {
        #expect(WebhookEvent.parse([0x7B, 0xFF, 0xFE, 0x7D]) == nil)
    }
}
