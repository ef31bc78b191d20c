import Foundation

/// Where and how the simulator delivers OpenAI's webhooks when a background response ends.
///
/// OpenAI POSTs one thin event (`response.completed`, `.failed`, `.cancelled`, `.incomplete`,
/// carrying only the response id) to a project's endpoint, signed as Standard Webhooks v1. It
/// retries an answer other than 2xx, or none within a few seconds, with exponential backoff for
/// up to 72 hours on a schedule it does not publish, and now and then delivers a copy twice. The
/// rates here make those behaviours, and worse ones (lost events, an event that beats the
/// create's answer, events of other types), as common as a test wants. Every choice is drawn
/// from the simulator's `seed` and the response id, so a run can be repeated.
public struct WebhookSettings: Sendable {
    /// The receiver, e.g. `http://127.0.0.1:8080/webhooks/openai`.
    public var url: String
    /// The endpoint's signing secret: `whsec_` + strict standard base64 of at least 16 bytes
    /// (OpenAI's decode to 32). The simulator signs with it; it never appears in errors or logs.
    public var secret: String
    /// Share of response events never delivered (no retries either): a lost webhook.
    public var dropRate = 0.0
    /// Share of response events delivered twice, the copy a bit later (0.1–1 s) with the same
    /// `webhook-id` and body.
    public var duplicateRate = 0.0
    /// Real seconds between a response's end and the first attempt.
    public var delaySeconds = 0.0
    /// Share of background creates whose answer is held until their webhook was delivered: a
    /// fast generation whose event beats the create's answer. Such a response ends at once
    /// (queue and generation forced to 0, a `stuck` one completes) and its create answer still
    /// shows `queued`, the snapshot taken when it was accepted.
    public var earlyRate = 0.0
    /// Share of response ends that also bring an event Kiln must ignore: another type
    /// (`batch.completed`, `fine_tuning.job.succeeded`, `eval.run.succeeded`) or, one time in
    /// five, a dashboard test event `response.completed` for `resp_abc123`.
    public var ignorableRate = 0.0
    /// Attempts per message, on a non-2xx answer, a timeout or a connection error.
    public var maxAttempts = 5
    /// Real seconds before the first retry; each later one waits twice as long. OpenAI's own
    /// schedule is unpublished and runs for up to 72 hours; this one is short so tests finish.
    public var retryBackoffSeconds = 0.2
    /// Real seconds an attempt may take ("a few seconds" at OpenAI).
    public var attemptTimeoutSeconds = 5.0

    public init(url: String, secret: String) {
        self.url = url
        self.secret = secret
    }

    /// Refuses settings the simulator cannot deliver with; messages name the key, never the secret.
    public func validate() throws {
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw WebhookSettingsError("webhooks.url must be an http(s) URL with a host, got \"\(url.prefix(200))\"")
        }
        guard Self.signingKey(fromSecret: secret) != nil else {
            throw WebhookSettingsError(
                "webhooks.secret must be whsec_ followed by standard base64 (with padding) of at least 16 bytes; the given secret is not")
        }
        for (key, rate) in [
            ("drop_rate", dropRate), ("duplicate_rate", duplicateRate), ("early_rate", earlyRate), ("ignorable_rate", ignorableRate),
        ] {
            guard (0...1).contains(rate) else { throw WebhookSettingsError("webhooks.\(key) must be in 0...1, got \(rate)") }
        }
        guard delaySeconds >= 0, delaySeconds.isFinite else {
            throw WebhookSettingsError("webhooks.delay_seconds must be ≥ 0, got \(delaySeconds)")
        }
        guard maxAttempts >= 1 else { throw WebhookSettingsError("webhooks.max_attempts must be ≥ 1, got \(maxAttempts)") }
        guard retryBackoffSeconds >= 0, attemptTimeoutSeconds > 0 else {
            throw WebhookSettingsError("webhooks.retry_backoff_seconds must be ≥ 0 and webhooks.attempt_timeout_seconds > 0")
        }
    }

    /// The HMAC key: the strict base64 decoding of the secret after `whsec_`, or nil when the
    /// secret lacks the prefix, holds a character outside the alphabet, is badly padded or
    /// decodes to fewer than 16 bytes. (OpenAI's SDKs decode leniently; a typo then makes a weak key.)
    static func signingKey(fromSecret secret: String) -> Data? {
        guard secret.hasPrefix("whsec_") else { return nil }
        let encoded = secret.dropFirst("whsec_".count)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let body = encoded.prefix { $0 != "=" }
        let padding = encoded.count - body.count
        guard !encoded.isEmpty, encoded.count % 4 == 0, padding <= 2, body.allSatisfy(alphabet.contains),
            encoded.dropFirst(body.count).allSatisfy({ $0 == "=" }),
            let key = Data(base64Encoded: String(encoded)), key.count >= 16
        else { return nil }
        return key
    }
}

/// Settings the simulator refuses; the text names the key at fault and never holds the secret.
public struct WebhookSettingsError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}
