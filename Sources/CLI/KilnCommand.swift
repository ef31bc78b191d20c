import ArgumentParser

/// `kiln`: put runs in, read them out, and run the workers that execute them.
@main
struct KilnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kiln",
        abstract: "Runs an application's long AI generations in the provider's background mode.",
        discussion: """
            The application inserts runs into the ai_runs table (or with `kiln enqueue`); \
            `kiln work` submits them and polls them to the end. Every command takes --database \
            (a SQLite path; default $KILN_DATABASE_URL, else ./kiln.sqlite) and --config \
            (default $KILN_CONFIG).
            """,
        subcommands: [
            MigrateCommand.self, EnqueueCommand.self, ShowCommand.self, ListCommand.self, CancelCommand.self, RetryCommand.self,
            ReviewCommand.self, DisplayedCommand.self, StatusCommand.self, SpendCommand.self, PruneCommand.self, EraseCommand.self,
            QuotaCommand.self,
            EventsCommand.self,
            SubmitCommand.self, PollCommand.self,
            WorkCommand.self, ServeCommand.self,
            SimulateCommand.self, DemoCommand.self,
        ]
    )
}
