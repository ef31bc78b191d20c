import Hummingbird

/// Answers `401` to a request without a known `Authorization: Bearer <token>`, and puts the
/// token's user on the context of every other one.
public struct BearerAuthenticator: RouterMiddleware {
    public typealias Context = DeskRequestContext

    let directory: UserDirectory

    public init(directory: UserDirectory) {
        self.directory = directory
    }

    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let user = directory.user(forToken: String(header.dropFirst("Bearer ".count)))
        else {
            throw APIError.unauthenticated
        }
        var context = context
        context.user = user
        context.logger[metadataKey: "user_id"] = "\(user.id)"
        context.logger[metadataKey: "tenant_id"] = "\(user.tenant)"
        return try await next(request, context)
    }
}
