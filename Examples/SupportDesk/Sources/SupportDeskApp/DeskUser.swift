import KilnDomain

/// A signed-in person: who they are, which tenant (company account) they work in, and their role.
public struct DeskUser: Sendable, Hashable {
    /// What a person may do with reply drafts.
    public enum Role: String, Sendable, Hashable {
        /// Drafts replies, reads them and decides on them.
        case agent
        /// Reads drafts only.
        case viewer

        public var mayDraft: Bool { self == .agent }
        public var mayReview: Bool { self == .agent }
    }

    public let id: String
    public let tenant: TenantID
    public let role: Role

    public init(id: String, tenant: TenantID, role: Role) {
        self.id = id
        self.tenant = tenant
        self.role = role
    }
}
