import KilnDomain

/// Who a bearer token belongs to: the app's stand-in for its session store.
///
/// A real app resolves its session cookie or token against its own user table; this example
/// is given a fixed map, so the routes and their tests show the rules, not a login flow.
public struct UserDirectory: Sendable {
    private let users: [String: DeskUser]

    /// `users` by token.
    public init(_ users: [String: DeskUser]) {
        self.users = users
    }

    /// The user holding `token`, or nil for an unknown one.
    public func user(forToken token: String) -> DeskUser? {
        users[token]
    }

    /// Three people in two tenants, for trying the app by hand (see the example's README).
    public static let sample = UserDirectory([
        "ada-token": DeskUser(id: "ada", tenant: TenantID("acme"), role: .agent),
        "vic-token": DeskUser(id: "vic", tenant: TenantID("acme"), role: .viewer),
        "gus-token": DeskUser(id: "gus", tenant: TenantID("globex"), role: .agent),
    ])
}
