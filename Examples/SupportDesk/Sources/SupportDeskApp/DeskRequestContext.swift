import Foundation
import Hummingbird

/// The request context of SupportDesk's routes: Hummingbird's core values and the signed-in user.
public struct DeskRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``BearerAuthenticator`` before any route runs.
    public var user: DeskUser?

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        user = nil
    }

    /// JSON with sorted keys, so answers read the same every time.
    public var responseEncoder: JSONEncoder { Self.encoder }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// The signed-in user; a route behind ``BearerAuthenticator`` always has one.
    public func requireUser() throws -> DeskUser {
        guard let user else { throw APIError.unauthenticated }
        return user
    }
}
