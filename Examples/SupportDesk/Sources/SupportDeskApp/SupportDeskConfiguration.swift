import KilnDomain

/// What the SupportDesk server needs to start, with its defaults. The executable fills it from
/// the environment; tests fill it directly.
public struct SupportDeskConfiguration: Sendable {
    /// The SQLite file holding `ai_runs` (created and migrated at start).
    public var databasePath: String
    /// Where the HTTP server listens; port 0 picks a free one (default 127.0.0.1:8080).
    public var host = "127.0.0.1"
    public var port = 8080
    /// The company whose support team the drafts speak for.
    public var company = "Acme Widgets"
    /// Kiln's own settings (provider address, poller schedule, policy defaults, …). The server
    /// adds ``SupportReply`` to `kiln.features`.
    public var kiln = KilnConfiguration()
    /// Kiln's lease owner and the actor of the events the worker writes: `host:pid`.
    public var owner: String
    /// Whether SIGTERM and SIGINT shut the server down gracefully (off in tests, which stop it
    /// themselves).
    public var stopsOnSignals = true

    public init(databasePath: String, owner: String) {
        self.databasePath = databasePath
        self.owner = owner
    }
}
