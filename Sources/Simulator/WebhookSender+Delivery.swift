import Foundation
import Logging

extension WebhookSender {
    /// Delivers `message` with retries: attempts `first`… up to `maxAttempts`, waiting
    /// `retryBackoffSeconds`, then twice as long each time, between them. True once a 2xx came.
    func deliver(_ message: WebhookMessage, from first: Int = 1) async -> Bool {
        var attemptNumber = first
        while attemptNumber <= configuration().webhooks?.maxAttempts ?? 1, !Task.isCancelled {
            if attemptNumber > 1 {
                let backoff = (configuration().webhooks?.retryBackoffSeconds ?? 0.2) * pow(2, Double(attemptNumber - 2))
                guard await sleep(until: now() + backoff) else { break }
                count { $0.retries += 1 }
            }
            if await attempt(message) { return true }
            attemptNumber += 1
        }
        count { $0.abandoned += 1 }
        logger.warning(
            "webhook abandoned after failed attempts",
            metadata: ["webhook_id": "\(message.webhookID)", "data_id": "\(message.dataID)", "attempt": "\(attemptNumber - 1)"])
        return false
    }

    /// One POST of `message`, signed for this moment; true on a 2xx answer. A redirect, another
    /// status, a timeout or a connection error is a failure, as at OpenAI.
    func attempt(_ message: WebhookMessage) async -> Bool {
        guard let settings = configuration().webhooks, let url = URL(string: settings.url),
            let key = WebhookSettings.signingKey(fromSecret: settings.secret)
        else {
            logger.error("webhook not sent: the webhooks settings are missing or invalid", metadata: ["webhook_id": "\(message.webhookID)"])
            return false
        }
        count { $0.attempted += 1 }
        let headers = message.headers(timestamp: Int(now()), key: key)
        switch await transport.post(url, headers: headers, body: Data(message.body.utf8), timeout: settings.attemptTimeoutSeconds) {
        case .success(let status) where (200..<300).contains(status):
            count { $0.delivered += 1 }
            return true
        case .success(let status):
            logger.debug("webhook refused", metadata: ["webhook_id": "\(message.webhookID)", "status": "\(status)"])
            return false
        case .failure(let error):
            logger.debug("webhook not delivered", metadata: ["webhook_id": "\(message.webhookID)", "error": "\(error)"])
            return false
        }
    }
}
