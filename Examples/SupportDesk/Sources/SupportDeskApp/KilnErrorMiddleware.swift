import Hummingbird
import KilnDomain

/// Turns a ``KilnError`` a route lets through into its ``APIError`` answer, and logs those
/// that are the server's fault (their code only: Kiln's messages are safe, but brief is enough).
struct KilnErrorMiddleware: RouterMiddleware {
    typealias Context = DeskRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as KilnError {
            let answer = APIError(error)
            if answer.status.code >= 500 {
                context.logger.error("kiln call failed", metadata: ["error_code": "\(error.code.rawValue)", "error": "\(error.message)"])
            }
            throw answer
        }
    }
}
