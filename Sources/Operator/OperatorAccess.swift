import Crypto
import Foundation
import HTTPTypes
import KilnDomain

/// Who may use the dashboard and `/metrics`, and what they may do.
///
/// The model: an operator sees every tenant (the dashboard is for the people who run Kiln,
/// not for an app's users). On a loopback address the listener is open; on any other address
/// Kiln refuses to start without credentials: HTTP basic auth (a user and a password) or a
/// bearer token. Read-only mode shows everything and refuses every action. Actions are POSTs
/// that carry this process's form token and, when the browser says where they come from,
/// come from the same origin: a page on another site cannot make an operator's browser act.
/// `/healthz`, `/readyz` and the webhook receiver are outside this (the provider signs its
/// deliveries).
public struct OperatorAccess: Sendable {
    public enum Credentials: Sendable {
        case none
        case basic(user: String, password: String)
        case bearer(token: String)
    }

    public let credentials: Credentials
    public let readOnly: Bool
    /// Put in every form and checked on every POST.
    public let formToken: String

    public init(credentials: Credentials, readOnly: Bool, formToken: String? = nil) {
        self.credentials = credentials
        self.readOnly = readOnly
        self.formToken = formToken ?? SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).map { String(format: "%02x", $0) }.joined() }
    }

    /// The access for a listener on `host`: refused (with the reason) when it is not a loopback
    /// address and no credentials are configured.
    public static func forListener(host: String, credentials: Credentials, readOnly: Bool) throws(KilnError) -> OperatorAccess {
        if case .none = credentials, !isLoopback(host) {
            throw KilnError(
                .invalidConfiguration,
                "the dashboard and /metrics on \(host) (not a loopback address) need credentials: set http.auth_user with KILN_HTTP_PASSWORD or http.auth_password_file, or KILN_HTTP_TOKEN or http.auth_token_file"
            )
        }
        return OperatorAccess(credentials: credentials, readOnly: readOnly)
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Whether the request's `Authorization` header carries the credentials (constant-time).
    public func allows(authorization: String?) -> Bool {
        switch credentials {
        case .none: return true
        case .basic(let user, let password):
            guard let value = authorization, value.lowercased().hasPrefix("basic "),
                let decoded = Data(base64Encoded: String(value.dropFirst(6)).trimmingCharacters(in: .whitespaces))
            else { return false }
            return Self.same(Array(decoded), Array("\(user):\(password)".utf8))
        case .bearer(let token):
            guard let value = authorization, value.lowercased().hasPrefix("bearer ") else { return false }
            return Self.same(Array(value.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8), Array(token.utf8))
        }
    }

    /// The operator's name for event actors: the basic-auth user, else `operator`.
    public var actor: String {
        if case .basic(let user, _) = credentials { return "operator:\(user)" }
        return "operator"
    }

    public var challenge: String {
        if case .bearer = credentials { return "Bearer realm=\"kiln\"" }
        return "Basic realm=\"kiln\", charset=\"UTF-8\""
    }

    /// Why a POST is refused, or nil: read-only mode, a missing or wrong form token, or a
    /// browser that says the request comes from another site.
    public func refusal(formToken token: String?, origin: String?, host: String?, fetchSite: String?) -> String? {
        if readOnly { return "the dashboard is read-only" }
        if let fetchSite, fetchSite != "same-origin", fetchSite != "none" { return "a request from another site (\(fetchSite))" }
        if let origin, origin != "null" {
            let originHost = URL(string: origin)?.host.map { host in URL(string: origin)?.port.map { "\(host):\($0)" } ?? host }
            if originHost != host { return "a request from another origin" }
        } else if origin == "null" {
            return "a request from an opaque origin"
        }
        guard let token, Self.same(Array(token.utf8), Array(formToken.utf8)) else { return "the form token is missing or wrong" }
        return nil
    }

    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
