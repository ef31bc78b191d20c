import Foundation

/// What the simulator will do about the end of one background response, drawn when the
/// response is created from the seed and its id, so a rerun with the same seed repeats it.
struct WebhookPlan: Sendable, Equatable {
    /// An event Kiln must ignore, sent beside the response's own.
    struct Ignorable: Sendable, Equatable {
        let type: String
        let dataID: String
        let webhookID: String
        let eventID: String
    }

    let responseID: String
    /// The event is never delivered.
    let dropped: Bool
    /// Real seconds after the first delivery that a copy follows; nil for no copy.
    let duplicateAfter: Double?
    let ignorable: Ignorable?
    let webhookID: String
    let eventID: String

    /// Draws the plan. An early response's event is never dropped: its create answer waits for it.
    init(responseID: String, seed: UInt64, settings: WebhookSettings, early: Bool) {
        var random = SeededRandom(seed: seed ^ SeededRandom.hash("webhook#" + responseID))
        // Every value is drawn whatever the rates, so changing one rate leaves the others' choices alone.
        let drop = random.unit()
        let duplicate = random.unit()
        let copyDelay = 0.1 + 0.9 * random.unit()
        let extra = random.unit()
        let kind = random.next() % 5
        let webhookID = Self.identifier("wh_", &random)
        let eventID = Self.identifier("evt_", &random)
        let extraWebhookID = Self.identifier("wh_", &random)
        let extraEventID = Self.identifier("evt_", &random)
        let extraObject = Self.identifier("", &random).prefix(24)
        self.responseID = responseID
        self.webhookID = webhookID
        self.eventID = eventID
        dropped = !early && drop < settings.dropRate
        duplicateAfter = duplicate < settings.duplicateRate ? copyDelay : nil
        guard extra < settings.ignorableRate else {
            ignorable = nil
            return
        }
        let (type, dataID): (String, String) =
            switch kind {
            case 0: ("batch.completed", "batch_\(extraObject)")
            case 1: ("fine_tuning.job.succeeded", "ftjob_\(extraObject)")
            case 2: ("eval.run.succeeded", "evalrun_\(extraObject)")
            case 3: ("batch.expired", "batch_\(extraObject)")
            default: ("response.completed", "resp_abc123")  // what the dashboard's "send test event" carries
            }
        ignorable = Ignorable(type: type, dataID: dataID, webhookID: extraWebhookID, eventID: extraEventID)
    }

    /// The response's event for an end of `type` at `endedAt` (unix seconds), and the ignorable one if planned.
    func messages(type: String, endedAt: Double) -> (event: WebhookMessage, ignorable: WebhookMessage?) {
        let createdAt = Int(endedAt)
        let event = WebhookMessage(webhookID: webhookID, eventID: eventID, type: type, dataID: responseID, createdAt: createdAt)
        let extra = ignorable.map {
            WebhookMessage(webhookID: $0.webhookID, eventID: $0.eventID, type: $0.type, dataID: $0.dataID, createdAt: createdAt)
        }
        return (event, extra)
    }

    /// Whether a create is one whose answer waits for its webhook: drawn from the seed and
    /// `key` (the run and attempt in the metadata, or the order of arrival).
    static func drawsEarly(key: String, seed: UInt64, rate: Double) -> Bool {
        guard rate > 0 else { return false }
        var random = SeededRandom(seed: seed ^ SeededRandom.hash("webhook-early#" + key))
        return random.unit() < rate
    }

    /// `prefix` + 32 hex digits, like OpenAI's `wh_…` and `evt_…` ids.
    private static func identifier(_ prefix: String, _ random: inout SeededRandom) -> String {
        prefix + String(format: "%016llx%016llx", random.next(), random.next())
    }
}
