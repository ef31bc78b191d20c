import Foundation

/// A provider call that did not give a usable response, classified for the caller.
///
/// The description is bounded and never contains the API key, a prompt or an output.
public struct ProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// 429: wait (``retryAfter`` when the provider said how long) and try again.
        case rateLimited = "rate_limited"
        /// 408, 409, 5xx, a refused connection, a body that is not the expected JSON:
        /// safe to try again.
        case retryable
        /// The request left and no answer came back (timeout, dropped connection, a
        /// truncated answer to a create): the provider may have acted on it.
        case ambiguous
        /// 400, 401, 403, 422 and other 4xx: trying again gives the same answer.
        case permanent
        /// 404: the provider does not have (or no longer has) this response.
        case notFound = "not_found"
    }

    public var kind: Kind
    /// The HTTP status, when an answer came.
    public var httpStatus: Int?
    /// The provider's error code (`invalid_api_key`, `rate_limit_exceeded`, …) or Kiln's
    /// transport code (`timeout`, `connection_closed`, `invalid_body`, …).
    public var code: String
    /// The provider's message, cut to 300 characters.
    public var message: String
    /// How long the provider asked to wait, from `retry-after-ms` / `retry-after`.
    public var retryAfter: Double?
    /// `x-request-id`, for support tickets.
    public var requestID: String?

    public init(
        kind: Kind, httpStatus: Int? = nil, code: String, message: String, retryAfter: Double? = nil,
        requestID: String? = nil
    ) {
        self.kind = kind
        self.httpStatus = httpStatus
        self.code = code
        self.message = String(message.prefix(300))
        self.retryAfter = retryAfter
        self.requestID = requestID
    }

    public var isRetryable: Bool { kind == .rateLimited || kind == .retryable }

    public var description: String {
        var text = "provider \(kind.rawValue)"
        if let httpStatus { text += " (HTTP \(httpStatus))" }
        text += ": \(code): \(message)"
        if let retryAfter { text += String(format: " (retry after %.3g s)", retryAfter) }
        return text
    }

    /// As the `error` column of a run.
    public var failure: RunFailure {
        RunFailure(code: code, message: message, source: .provider)
    }
}
