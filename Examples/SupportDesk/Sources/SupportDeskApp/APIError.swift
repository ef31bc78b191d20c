import Foundation
import Hummingbird
import KilnDomain

/// An error answered to an HTTP client: a status and `{"error": {"code": …, "message": …}}`.
///
/// Kiln's errors map by their code: what the client sent wrong is a 4xx with Kiln's message
/// (it names the key at fault and never holds a prompt, an output or SQL); what went wrong on
/// the server is a 5xx with a generic message, logged in full by the route.
public struct APIError: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String

    public init(_ status: HTTPResponse.Status, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public static let unauthenticated = APIError(
        .unauthorized, code: "unauthenticated", message: "send Authorization: Bearer <token> with a valid token")

    public static func forbidden(_ message: String) -> APIError {
        APIError(.forbidden, code: "forbidden", message: message)
    }

    public static func badRequest(_ message: String) -> APIError {
        APIError(.badRequest, code: "invalid_request", message: message)
    }

    /// The answer to a ``KilnError``.
    public init(_ error: KilnError) {
        switch error.code {
        case .invalidArgument, .invalidInput, .invalidPolicy, .unknownFeature, .overBudget:
            self.init(.badRequest, code: error.code.rawValue, message: error.message)
        case .inputTooLarge:
            self.init(.contentTooLarge, code: error.code.rawValue, message: error.message)
        case .notFound:
            self.init(.notFound, code: error.code.rawValue, message: error.message)
        case .conflict:
            self.init(.conflict, code: error.code.rawValue, message: error.message)
        case .databaseUnavailable:
            self.init(.serviceUnavailable, code: error.code.rawValue, message: "the service is busy; try again shortly")
        case .database, .provider, .invalidConfiguration:
            self.init(.internalServerError, code: "internal_error", message: "something went wrong on our side")
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: [String: [String: String]] = ["error": ["code": code, "message": message]]
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        let data = try DeskRequestContext.encoder.encode(body)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
