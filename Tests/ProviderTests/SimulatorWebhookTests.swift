import Foundation
import KilnTestSupport
import Testing

@testable import KilnSimulator

/// The secret of OpenAI's SDK tests (32 bytes after `whsec_`).
private let secret = "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c="

/// The simulator announces background responses' ends as OpenAI does: one thin, signed event
/// each, with the duplicates, losses, retries, early arrivals and foreign events a receiver must survive.
@Suite("Simulator webhooks", .serialized)
struct SimulatorWebhookTests {
    @Test func everyEndedBackgroundResponseIsAnnouncedOnceSignedAndTheOfficialSDKAcceptsIt() async throws {
        let python = try testPython()
        let receiver = RecordingWebhookReceiver()
        try await receiver.withRunning { url in
            let simulator = webhookSimulator(url)
            try await simulator.withRunning { base in
                let started = Date()
                var expected: [String: String] = [:]
                for (directive, type) in [
                    ("", "response.completed"), ("[sim:fail]", "response.failed"), ("[sim:incomplete]", "response.incomplete"),
                    ("[sim:refuse]", "response.completed"),
                ] {
                    expected[try await create(base, "Doc \(directive) [sim:queue=0] [sim:generation=0.05]").id] = type
                }
                let running = try await create(base, "Doc [sim:generation=30]").id
                let stuck = try await create(base, "Doc [sim:stuck]").id
                for id in [running, stuck, stuck] {  // a second cancel announces nothing more
                    let (status, _) = try await rawRequest(.POST, base + "/responses/\(id)/cancel")
                    #expect(status == 200)
                }
                expected[running] = "response.cancelled"
                expected[stuck] = "response.cancelled"
                _ = try await create(base, "Doc [sim:generation=60]")  // still running at the end: no event
                _ = try await create(base, "Doc [sim:generation=0.05]", background: false)  // not background: no event

                // Nobody retrieves anything: the simulator's own timers announce the ends.
                #expect(try await eventually { receiver.deliveries.count >= expected.count })
                try await Task.sleep(for: .milliseconds(300))
                let deliveries = receiver.deliveries
                #expect(deliveries.count == expected.count)
                #expect(Dictionary(grouping: deliveries, by: \.dataID).mapValues(\.count) == expected.mapValues { _ in 1 })
                for delivery in deliveries {
                    #expect(delivery.type == expected[delivery.dataID])
                    #expect(delivery.isSigned(with: secret))
                    #expect(delivery.webhookID.hasPrefix("wh_") && delivery.webhookID.count == 35)
                    #expect(delivery.headers["content-type"] == "application/json")
                    #expect(delivery.headers["user-agent"] == "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)")
                    let timestamp = try #require(delivery.headers["webhook-timestamp"].flatMap { Double($0) })
                    #expect(abs(timestamp - delivery.receivedAt.timeIntervalSince1970) < 2)
                    let event = delivery.event
                    #expect(Set(event.keys) == ["id", "object", "created_at", "type", "data"])
                    #expect(event["object"] as? String == "event")
                    #expect((event["id"] as? String)?.hasPrefix("evt_") == true)
                    let createdAt = try #require(event["created_at"] as? Int)
                    #expect(Double(createdAt) >= started.timeIntervalSince1970.rounded(.down) && Double(createdAt) <= timestamp)
                    #expect(delivery.body.hasPrefix(#"{"id":"evt_"#), "the body keeps OpenAI's field order: \(delivery.body)")
                }
                #expect(Set(deliveries.map(\.webhookID)).count == deliveries.count)
                let counters = simulator.webhookCounters
                #expect(counters.events == expected.count && counters.delivered == expected.count && counters.attempted == expected.count)
                #expect(counters.dropped == 0 && counters.retries == 0 && counters.duplicates == 0 && counters.abandoned == 0)
                #expect((simulator.statistics()["webhooks"] as? [String: Int])?["delivered"] == expected.count)
            }
            try await expectTheSDKAccepts(receiver, python: python, count: 6)
        }
    }

    @Test func aDuplicateKeepsTheWebhookIDAndBodyOfTheFirstCopy() async throws {
        let receiver = RecordingWebhookReceiver()
        try await receiver.withRunning { url in
            let simulator = webhookSimulator(url) { $0.duplicateRate = 1 }
            try await simulator.withRunning { base in
                for _ in 0..<3 { _ = try await create(base, "Doc [sim:queue=0] [sim:generation=0.05]") }
                #expect(try await eventually { receiver.deliveries.count >= 6 })
                try await Task.sleep(for: .milliseconds(200))
                let copies = Dictionary(grouping: receiver.deliveries, by: \.webhookID)
                #expect(copies.count == 3)
                for (_, pair) in copies {
                    #expect(pair.count == 2)
                    #expect(Set(pair.map(\.body)).count == 1)
                    #expect(pair.allSatisfy { $0.isSigned(with: secret) })
                }
                #expect(simulator.webhookCounters.duplicates == 3)
                #expect(simulator.webhookCounters.events == 3)
            }
        }
    }

    @Test func dropsFollowTheRateAndTheSeed() async throws {
        func delivered(seed: UInt64) async throws -> (delivered: Set<String>, dropped: Int) {
            let receiver = RecordingWebhookReceiver()
            return try await receiver.withRunning { url in
                let simulator = webhookSimulator(url, seed: seed) { $0.dropRate = 0.5 }
                return try await simulator.withRunning { base in
                    for _ in 0..<30 { _ = try await create(base, "Doc [sim:queue=0] [sim:generation=0.05]") }
                    #expect(
                        try await eventually {
                            let counters = simulator.webhookCounters
                            return counters.events == 30 && counters.delivered + counters.dropped == 30
                        })
                    let counters = simulator.webhookCounters
                    #expect(receiver.deliveries.count == counters.delivered)
                    return (Set(receiver.deliveries.map(\.dataID)), counters.dropped)
                }
            }
        }
        let first = try await delivered(seed: 7)
        #expect((6...24).contains(first.dropped), "about half of 30 dropped, got \(first.dropped)")
        let again = try await delivered(seed: 7)
        #expect(again.delivered == first.delivered, "the same seed drops the same responses")
    }

    @Test func aFailingReceiverGetsRetriesUnderTheSameWebhookID() async throws {
        let receiver = RecordingWebhookReceiver(failFirst: 2)
        try await receiver.withRunning { url in
            let simulator = webhookSimulator(url)
            try await simulator.withRunning { base in
                let id = try await create(base, "Doc [sim:queue=0] [sim:generation=0.05]").id
                #expect(try await eventually { simulator.webhookCounters.delivered == 1 })
                let attempts = receiver.deliveries
                #expect(attempts.count == 3)
                #expect(Set(attempts.map(\.webhookID)).count == 1)
                #expect(Set(attempts.map(\.body)).count == 1)
                #expect(attempts.allSatisfy { $0.dataID == id && $0.isSigned(with: secret) })
                let gaps = zip(attempts.dropFirst(), attempts).map { $0.receivedAt.timeIntervalSince($1.receivedAt) }
                #expect(gaps.count == 2 && gaps[0] >= 0.15 && gaps[1] >= 0.35, "backoff 0.2 s, then 0.4 s: \(gaps)")
                let counters = simulator.webhookCounters
                #expect(counters.attempted == 3 && counters.retries == 2 && counters.abandoned == 0)
            }
        }
        let refusing = RecordingWebhookReceiver(failFirst: 100)
        try await refusing.withRunning { url in
            let simulator = webhookSimulator(url) { $0.maxAttempts = 2 }
            try await simulator.withRunning { base in
                _ = try await create(base, "Doc [sim:queue=0] [sim:generation=0.05]")
                #expect(try await eventually { simulator.webhookCounters.abandoned == 1 })
                #expect(refusing.deliveries.count == 2)
                #expect(simulator.webhookCounters.delivered == 0)
            }
        }
    }

    @Test func anEarlyWebhookArrivesBeforeTheCreateAnswer() async throws {
        let receiver = RecordingWebhookReceiver()
        try await receiver.withRunning { url in
            let simulator = webhookSimulator(url) { $0.earlyRate = 1 }
            try await simulator.withRunning { base in
                let made = try await create(base, "Doc [sim:generation=30]")
                let delivered = receiver.deliveries  // read as soon as the create answered
                #expect(delivered.map(\.dataID) == [made.id])
                #expect(delivered.first?.type == "response.completed")
                #expect(made.status == "queued", "the answer is the snapshot taken when it was accepted")
                let (_, now) = try await rawRequest(.GET, base + "/responses/\(made.id)")
                #expect(String(decoding: now, as: UTF8.self).contains(#""status":"completed""#))
                #expect(simulator.webhookCounters.early == 1)
                try await Task.sleep(for: .milliseconds(200))
                #expect(receiver.deliveries.count == 1, "an early event is not sent again when its timer would have come due")
            }
        }
    }

    @Test func ignorableEventsComeSignedWithOtherTypesOrTheDashboardTestID() async throws {
        let python = try testPython()
        let receiver = RecordingWebhookReceiver()
        try await receiver.withRunning { url in
            let simulator = webhookSimulator(url) { $0.ignorableRate = 1 }
            let ours = try await simulator.withRunning { base in
                var ours: Set<String> = []
                for _ in 0..<10 { ours.insert(try await create(base, "Doc [sim:queue=0] [sim:generation=0.05]").id) }
                #expect(try await eventually { receiver.deliveries.count >= 20 })
                #expect(simulator.webhookCounters.ignorable == 10)
                return ours
            }
            let deliveries = receiver.deliveries
            #expect(deliveries.allSatisfy { $0.isSigned(with: secret) })
            let foreign = deliveries.filter { !ours.contains($0.dataID) }
            #expect(foreign.count == 10)
            for delivery in foreign {
                #expect(
                    ["batch.completed", "batch.expired", "fine_tuning.job.succeeded", "eval.run.succeeded"].contains(delivery.type)
                        || (delivery.type == "response.completed" && delivery.dataID == "resp_abc123"), "\(delivery.body)")
            }
            try await expectTheSDKAccepts(receiver, python: python, count: 20)
        }
    }

    @Test func theDelayHoldsTheFirstAttemptAfterTheEnd() async throws {
        let receiver = RecordingWebhookReceiver()
        try await receiver.withRunning { url in
            let simulator = webhookSimulator(url) { $0.delaySeconds = 0.6 }
            try await simulator.withRunning { base in
                let id = try await create(base, "Doc [sim:queue=0] [sim:generation=0.05]").id
                #expect(try await eventually { receiver.deliveries.count == 1 })
                let ended = try #require(simulator.finishTime(ofResponse: id))
                let arrived = try #require(receiver.deliveries.first?.receivedAt)
                #expect(arrived.timeIntervalSince(ended) >= 0.55)
            }
        }
    }

    @Test func invalidSettingsAreRefusedWithoutQuotingTheSecret() async throws {
        for bad in [
            "", "whsec_", "whsec_!!!!", "whsec_a", "sk-not-a-webhook-secret", "whsec_dGVzdA==",
            "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c", "whsec_RdvaYFYUXuIFuEbvZHwMfYFhUf7aMYjYcmM24+Aj40c=\n",
        ] {
            let error = try #require(throws: WebhookSettingsError.self) {
                try WebhookSettings(url: "http://127.0.0.1:1/x", secret: bad).validate()
            }
            #expect(error.description.contains("webhooks.secret"))
            #expect(bad.count < 8 || !error.description.contains(bad.dropFirst(6)), "never quote the secret")
        }
        for good in [secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
            try WebhookSettings(url: "http://127.0.0.1:1/x", secret: good).validate()
        }
        var rates = WebhookSettings(url: "http://127.0.0.1:1/x", secret: secret)
        rates.dropRate = 1.5
        #expect(throws: WebhookSettingsError.self) { try rates.validate() }
        #expect(throws: WebhookSettingsError.self) { try WebhookSettings(url: "not a url", secret: secret).validate() }
        let simulator = webhookSimulator("http://127.0.0.1:1/x") { $0.secret = "whsec_short" }
        await #expect(throws: WebhookSettingsError.self) { try await simulator.withRunning { _ in } }
    }

    @Test func signaturesMatchTheSDKAndStandardWebhooksVectors() throws {
        // openai-python tests/lib/test_webhooks.py
        let payload =
            #"{"id": "evt_685c059ae3a481909bdc86819b066fb6", "object": "event", "created_at": 1750861210, "type": "response.completed", "data": {"id": "resp_123"}}"#
        #expect(
            WebhookMessage.signature(
                id: "wh_685c059ae39c8190af8c71ed1022a24d", timestamp: "1750861210", body: Data(payload.utf8),
                key: try #require(WebhookSettings.signingKey(fromSecret: secret))) == "v1,gUAg4R2hWouRZqRQG4uJypNS8YK885G838+EHb4nKBY=")
        // standard-webhooks libraries/python/tests/test_webhooks.py::test_sign_function
        #expect(
            WebhookMessage.signature(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: "1614265330", body: Data(#"{"test": 2432232314}"#.utf8),
                key: try #require(WebhookSettings.signingKey(fromSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")))
                == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        // A non-ASCII body is signed as UTF-8.
        #expect(
            WebhookMessage.signature(
                id: "evt_synthetic", timestamp: "1750000000", body: Data(#"{"synthetic": "café"}"#.utf8),
                key: try #require(WebhookSettings.signingKey(fromSecret: "whsec_c3ludGhldGljLXdlYmhvb2stc2VjcmV0")))
                == "v1,qzuLCtHIXTcfJr8yxIcKC07cOqyNSgdmZRut6AFa+RA=")
    }

    @Test func aPlanIsAFunctionOfTheSeedAndTheResponse() {
        var settings = WebhookSettings(url: "http://127.0.0.1:1/x", secret: secret)
        settings.dropRate = 0.5
        settings.duplicateRate = 0.5
        settings.ignorableRate = 0.5
        let plan = WebhookPlan(responseID: "resp_1", seed: 3, settings: settings, early: false)
        #expect(plan == WebhookPlan(responseID: "resp_1", seed: 3, settings: settings, early: false))
        #expect(plan.webhookID != WebhookPlan(responseID: "resp_2", seed: 3, settings: settings, early: false).webhookID)
        #expect(plan.webhookID != WebhookPlan(responseID: "resp_1", seed: 4, settings: settings, early: false).webhookID)
        let drops = (0..<1000).filter { WebhookPlan(responseID: "resp_\($0)", seed: 3, settings: settings, early: false).dropped }
        #expect((400...600).contains(drops.count))
        #expect(!(0..<100).contains { WebhookPlan(responseID: "resp_\($0)", seed: 3, settings: settings, early: true).dropped })
        let (event, _) = plan.messages(type: "response.failed", endedAt: 1_750_000_000.7)
        #expect(
            event.body
                == #"{"id":"\#(plan.eventID)","object":"event","created_at":1750000000,"type":"response.failed","data":{"id":"resp_1"}}"#)
    }
}

/// A quick simulator that sends webhooks to `url`, signed with the test secret.
private func webhookSimulator(
    _ url: String, seed: UInt64 = 1, _ change: (inout WebhookSettings) -> Void = { _ in }
) -> Simulator {
    quickSimulator {
        var settings = WebhookSettings(url: url, secret: secret)
        change(&settings)
        $0.webhooks = settings
        $0.seed = seed
    }
}

/// Creates a response through the HTTP API; its id and the status the create answered.
private func create(_ base: String, _ input: String, background: Bool = true) async throws -> (id: String, status: String) {
    let (status, data) = try await rawRequest(
        .POST, base + "/responses", body: #"{"model":"gpt-5-mini","input":"\#(input)","background":\#(background),"max_output_tokens":200}"#
    )
    #expect(status == 200)
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    return (try #require(object["id"] as? String), try #require(object["status"] as? String))
}

/// Waits up to `seconds` for `condition`; whether it came true.
private func eventually(_ seconds: Double = 10, _ condition: () -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Runs the receiver's deliveries through `openai.OpenAI(webhook_secret:).webhooks.unwrap`
/// (`scripts/webhook_unwrap.py`), right away: it checks the timestamps against now (±300 s).
private func expectTheSDKAccepts(_ receiver: RecordingWebhookReceiver, python: String, count: Int) async throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-webhooks-\(UUID().uuidString).json")
    try receiver.json().write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let script = repositoryRoot.appendingPathComponent("scripts/webhook_unwrap.py").path
    let (status, output) = try await runCommand("/usr/bin/env", ["OPENAI_WEBHOOK_SECRET=\(secret)", python, script, file.path])
    #expect(status == 0, "\(output)")
    #expect(output.contains("ok \(count)"), "\(output)")
}
