import ArgumentParser
import KilnDomain

/// `kiln retry RUN_ID --failed-children`: resume a failed long document without paying again
/// for the children that finished.
struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Retry a failed long document's failed children; its finished children are kept.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The parent run id (run_…).") var runID: String
    @Option(help: "Tenant the run belongs to.") var tenant: String
    @Flag(help: "Queue again only the children that ended without a result (required).") var failedChildren = false
    @Flag(help: "Print the parent run as JSON.") var json = false

    func run() async throws {
        _ = try global.loadConfiguration()
        guard failedChildren else {
            throw KilnError(
                .invalidArgument, "kiln retry only retries a long document's failed children: pass --failed-children")
        }
        let service = RunService(store: try await global.openStore(), actor: GlobalOptions.processIdentity)
        let (run, children) = try await service.retryFailedChildren(RunID(runID), tenant: TenantID(tenant))
        print(json ? try Output.json(run) : "\(run.id) in_progress again: \(children) children queued; finished children kept")
    }
}
