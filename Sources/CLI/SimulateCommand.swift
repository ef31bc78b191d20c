import ArgumentParser
import Foundation
import Hummingbird
import KilnDomain
import KilnSimulator

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a local server that speaks OpenAI's Responses API (background mode), with faults on demand.",
        discussion: """
            Endpoints: POST /v1/responses, GET /v1/responses/{id}, POST /v1/responses/{id}/cancel, \
            DELETE /v1/responses/{id}; GET /_sim/stats and GET /_sim/runs/{kiln_run_id} report what it saw. \
            Durations are provider seconds, run --time-scale times faster. A document containing \
            [sim:fail], [sim:incomplete], [sim:refuse], [sim:stuck], [sim:generation=S] or [sim:queue=S] \
            gets that outcome or timing. With --webhook-url, each background response's end (completed, \
            failed, incomplete, or cancelled through the API) is POSTed there as OpenAI's signed, thin \
            webhook event, signed with the secret from --webhook-secret-file or env OPENAI_WEBHOOK_SECRET \
            (whsec_ + base64; never printed); failed attempts are retried 5 times from 0.2 s, doubling \
            (OpenAI's own schedule is unpublished and lasts up to 72 h).
            """)

    @Option(help: "Port on 127.0.0.1 (0 picks a free one).") var port = 8089
    @Option(help: "Require this API key (Bearer or api-key header); other keys get 401.") var apiKey: String?
    @Option(help: "Seed of every random choice.") var seed: UInt64 = 1
    @Option(help: "Provider seconds per real second.") var timeScale = 1.0
    @Option(help: "Shortest queue wait (provider s).") var queueWaitMin = 0.0
    @Option(help: "Longest queue wait (provider s).") var queueWaitMax = 2.0
    @Option(help: "Longest queue wait with a 2h/8h completion window (provider s).") var windowQueueWaitMax = 600.0
    @Option(help: "Median generation time (provider s), log-normal.") var generationMedian = 20.0
    @Option(help: "σ of the log-normal generation time.") var generationSigma = 0.6
    @Option(help: "Share of responses that fail.") var failedShare = 0.0
    @Option(help: "Share of responses that end incomplete (max_output_tokens).") var incompleteShare = 0.0
    @Option(help: "Share of responses that stay queued for ever.") var stuckShare = 0.0
    @Option(help: "Provider seconds a finished response is kept before answering 404 (0: for ever).") var retention = 0.0
    @Option(help: "Share of /v1 calls answered with a fault.") var faultRate = 0.0
    @Option(help: "Faults to draw from, comma-separated: 429,500,503,drop,slow,truncated.") var faults = "429,500,503,drop,slow,truncated"
    @Option(help: "Real seconds a slow answer waits.") var slowSeconds = 2.0
    @Option(name: .customLong("webhook-url"), help: "POST a signed webhook here when a background response ends.")
    var webhookURL: String?
    @Option(help: "File holding the webhook signing secret (whsec_…); default: env OPENAI_WEBHOOK_SECRET.")
    var webhookSecretFile: String?
    @Option(help: "Share of webhook events never delivered.") var webhookDropRate = 0.0
    @Option(help: "Share of webhook events delivered twice (same webhook-id).") var webhookDuplicateRate = 0.0
    @Option(help: "Real seconds between a response's end and its webhook's first attempt.") var webhookDelay = 0.0
    @Option(help: "Share of background creates answered only once their webhook was delivered (they end at once).")
    var webhookEarlyRate = 0.0
    @Option(help: "Share of response ends that also bring an event to ignore (another type, or a dashboard test event).")
    var webhookIgnorableRate = 0.0
    @Option(help: "Attempts per webhook message (on non-2xx, timeout, connection error).") var webhookMaxAttempts = 5
    @Option(help: "Share of flex creates refused with 429 resource_unavailable (flex capacity).") var flexBusyShare = 0.0
    @Option(help: "Longest wait of a batch's request before it runs (provider s).") var batchQueueWaitMax = 3600.0
    @Option(help: "A batch's completion window (provider s; the API's is 24 h).") var batchWindow = 86_400.0

    func simulatorConfiguration() throws -> SimulatorConfiguration {
        var c = SimulatorConfiguration()
        c.apiKey = apiKey
        c.seed = seed
        c.timeScale = timeScale
        c.queueWaitMin = queueWaitMin
        c.queueWaitMax = queueWaitMax
        c.windowQueueWaitMax = windowQueueWaitMax
        c.generationMedian = generationMedian
        c.generationSigma = generationSigma
        c.failedShare = failedShare
        c.incompleteShare = incompleteShare
        c.stuckShare = stuckShare
        c.retention = retention
        c.faultRate = faultRate
        c.slowSeconds = slowSeconds
        c.flexBusyShare = flexBusyShare
        c.batchQueueWaitMax = batchQueueWaitMax
        c.batchWindowSeconds = batchWindow
        guard (0...1).contains(flexBusyShare) else {
            throw KilnError(.invalidArgument, "--flex-busy-share must be in 0...1, got \(flexBusyShare)")
        }
        guard batchQueueWaitMax >= 0, batchWindow > 0 else {
            throw KilnError(.invalidArgument, "--batch-queue-wait-max must be ≥ 0 and --batch-window > 0")
        }
        c.faultMix = try faults.split(separator: ",").map { name in
            guard let fault = SimulatorFault(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw KilnError(
                    .invalidArgument, "--faults: unknown fault \"\(name.prefix(20))\"; known: 429, 500, 503, drop, slow, truncated")
            }
            return fault
        }
        guard timeScale > 0 else { throw KilnError(.invalidArgument, "--time-scale must be > 0, got \(timeScale)") }
        guard queueWaitMin >= 0, queueWaitMax >= queueWaitMin else {
            throw KilnError(.invalidArgument, "--queue-wait-min/--queue-wait-max must satisfy 0 ≤ min ≤ max")
        }
        guard generationMedian > 0, generationSigma >= 0 else {
            throw KilnError(.invalidArgument, "--generation-median must be > 0 and --generation-sigma ≥ 0")
        }
        for (name, share) in [("failed", failedShare), ("incomplete", incompleteShare), ("stuck", stuckShare), ("fault", faultRate)] {
            guard (0...1).contains(share) else {
                throw KilnError(.invalidArgument, "--\(name)-\(name == "fault" ? "rate" : "share") must be in 0...1, got \(share)")
            }
        }
        guard failedShare + incompleteShare + stuckShare <= 1 else {
            throw KilnError(.invalidArgument, "--failed-share + --incomplete-share + --stuck-share must be ≤ 1")
        }
        guard (0...65535).contains(port) else { throw KilnError(.invalidArgument, "--port must be in 0...65535, got \(port)") }
        c.webhooks = try webhookSettings(environment: ProcessInfo.processInfo.environment)
        return c
    }

    /// The webhook settings the options ask for (nil without `--webhook-url`); the secret comes
    /// from `--webhook-secret-file` or `OPENAI_WEBHOOK_SECRET` and no message ever quotes it.
    func webhookSettings(environment: [String: String]) throws -> WebhookSettings? {
        guard let webhookURL else {
            guard webhookSecretFile == nil else { throw KilnError(.invalidArgument, "--webhook-secret-file needs --webhook-url") }
            return nil
        }
        let secret: String
        if let path = webhookSecretFile {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw KilnError(.invalidArgument, "--webhook-secret-file: cannot read \(path)")
            }
            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let text = environment["OPENAI_WEBHOOK_SECRET"] {
            secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw KilnError(
                .invalidArgument, "--webhook-url needs a signing secret: --webhook-secret-file PATH or env OPENAI_WEBHOOK_SECRET")
        }
        var settings = WebhookSettings(url: webhookURL, secret: secret)
        settings.dropRate = webhookDropRate
        settings.duplicateRate = webhookDuplicateRate
        settings.delaySeconds = webhookDelay
        settings.earlyRate = webhookEarlyRate
        settings.ignorableRate = webhookIgnorableRate
        settings.maxAttempts = webhookMaxAttempts
        do {
            try settings.validate()
        } catch let error as WebhookSettingsError {
            // The same message, in the words of the options.
            var message = error.description
            for (key, option) in [
                ("webhooks.url", "--webhook-url"), ("webhooks.secret", "the webhook secret"), ("webhooks.drop_rate", "--webhook-drop-rate"),
                ("webhooks.duplicate_rate", "--webhook-duplicate-rate"), ("webhooks.early_rate", "--webhook-early-rate"),
                ("webhooks.ignorable_rate", "--webhook-ignorable-rate"), ("webhooks.delay_seconds", "--webhook-delay"),
                ("webhooks.max_attempts", "--webhook-max-attempts"),
            ] {
                message = message.replacingOccurrences(of: key, with: option)
            }
            throw KilnError(.invalidArgument, message)
        }
        return settings
    }

    func run() async throws {
        let configuration = try simulatorConfiguration()
        let simulator = Simulator(configuration: configuration)
        let webhooks = configuration.webhooks.map { " (webhooks to \($0.url))" } ?? ""
        let app = simulator.application(port: port) { bound in
            FileHandle.standardOutput.write(Data("kiln simulator listening on http://127.0.0.1:\(bound)/v1\(webhooks)\n".utf8))
        }
        try await app.runService()
    }
}
