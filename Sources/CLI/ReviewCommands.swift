import ArgumentParser
import Foundation
import KilnDomain

struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review",
        abstract: "Record a person's decision on a completed run: accept, edit (with --text or --json) or discard.",
        discussion: """
            A decision is final and leaves a `reviewed` event with the reviewer as actor. An edit is kept in \
            `reviewed_output` beside the model's original `output`: text for a text feature, JSON that satisfies \
            the output schema for a feature that has one.
            """)

    enum Decision: String, ExpressibleByArgument, CaseIterable {
        case accept, edit, discard
    }

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (run_…).") var runID: String
    @Argument(help: "accept, edit or discard.") var decision: Decision
    @Option(help: "Tenant the run belongs to.") var tenant: String
    @Option(help: "Who decided (default: this process).") var by: String?
    @Option(help: "The edited text (edit of a text feature).") var text: String?
    @Option(name: .customLong("json"), help: "The edited JSON (edit of a feature with an output schema).") var editedJSON: String?
    @Flag(name: .customLong("print-json"), help: "Print the run as JSON.") var printJSON = false

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let chosen: ReviewDecision
        switch (decision, text, editedJSON) {
        case (.accept, nil, nil): chosen = .accept
        case (.discard, nil, nil): chosen = .discard
        case (.edit, let text?, nil): chosen = .edit(.text(text))
        case (.edit, nil, let json?): chosen = .edit(.json(try JSONValue.parse(json, what: "--json")))
        case (.edit, nil, nil): throw KilnError(.invalidArgument, "edit needs the edited output: --text TEXT or --json JSON")
        case (.edit, _?, _?): throw KilnError(.invalidArgument, "give either --text or --json, not both")
        case (.accept, _, _), (.discard, _, _):
            throw KilnError(.invalidArgument, "--text and --json go with edit only, not \(decision.rawValue)")
        }
        let service = RunService(
            store: try await global.openStore(), features: configuration.features, actor: GlobalOptions.processIdentity)
        let run = try await service.review(RunID(runID), tenant: TenantID(tenant), chosen, by: by)
        print(printJSON ? try Output.json(run) : "\(run.id) \(run.reviewState ?? "-") by \(run.reviewedBy ?? "-")")
    }
}

struct DisplayedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "displayed", abstract: "Record that a completed run's result was shown to a user (a `displayed` event).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The run id (run_…).") var runID: String
    @Option(help: "Tenant the run belongs to.") var tenant: String
    @Option(help: "Who saw it (default: this process).") var by: String?

    func run() async throws {
        let configuration = try global.loadConfiguration()
        let service = RunService(
            store: try await global.openStore(), features: configuration.features, actor: GlobalOptions.processIdentity)
        let run = try await service.markDisplayed(RunID(runID), tenant: TenantID(tenant), by: by)
        print("\(run.id) displayed to \(run.displayedBy ?? "-")")
    }
}
