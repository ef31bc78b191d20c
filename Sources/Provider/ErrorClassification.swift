import Foundation
import KilnDomain

/// Which provider answers are worth another try, and how long to wait: the rules of
/// `shared/reference/openai-background-mode.md` §6, as the official SDK applies them.
enum ErrorClassification {
    /// The kind of an HTTP error status, before `x-should-retry` is applied.
    static func kind(status: Int) -> ProviderError.Kind {
        switch status {
        case 429: .rateLimited
        case 404: .notFound
        case 408, 409, 500...599: .retryable
        default: .permanent
        }
    }

    /// `x-should-retry: true|false` overrides the status rule (404 stays not-found).
    static func kind(status: Int, shouldRetry: String?) -> ProviderError.Kind {
        let base = kind(status: status)
        switch shouldRetry?.lowercased() {
        case "true" where base == .permanent: return .retryable
        case "false" where base == .retryable || base == .rateLimited: return .permanent
        default: return base
        }
    }

    /// The wait the server asked for: `retry-after-ms` (milliseconds), then `retry-after` in
    /// seconds (fractions allowed), then `retry-after` as an HTTP date. Nil when absent,
    /// unreadable or not positive.
    static func retryAfter(retryAfterMs: String?, retryAfter: String?, now: Date) -> Double? {
        if let text = retryAfterMs, let millis = Double(text.trimmingCharacters(in: .whitespaces)), millis > 0, millis.isFinite {
            return millis / 1000
        }
        guard let text = retryAfter?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Double(text) {
            return seconds > 0 && seconds.isFinite ? seconds : nil
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        let seconds = date.timeIntervalSince(now)
        return seconds > 0 ? seconds : nil
    }

    /// The SDK's own back-off when the server gave no hint: `min(0.5·2^n, 8)` s × (1 − 0.25·U).
    static func backoff(retry: Int, random: Double) -> Double {
        min(0.5 * pow(2, Double(retry)), 8) * (1 - 0.25 * random)
    }
}
