import ArgumentParser
import Foundation
import KilnDomain
import KilnPostgres
import KilnSQLite

/// Options every command shares: where the database and the configuration are.
struct GlobalOptions: ParsableArguments {
    @Option(help: "SQLite file path or postgres:// URL (default: $KILN_DATABASE_URL, else ./kiln.sqlite).")
    var database: String?

    @Option(help: "JSON configuration file (default: $KILN_CONFIG; keys in config/kiln.json).")
    var config: String?

    /// The configuration: defaults, then the file, then `KILN_*` environment variables.
    func loadConfiguration() throws -> KilnConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let path = config ?? environment["KILN_CONFIG"]
        return try ConfigurationLoader.load(filePath: path, environment: environment)
    }

    /// The store at `--database`, migrated to the current contract version.
    func openStore() async throws -> any RunStore {
        let location = database ?? ProcessInfo.processInfo.environment["KILN_DATABASE_URL"] ?? "kiln.sqlite"
        let store = try StoreLocation.open(location)
        try await store.migrate()
        return store
    }

    /// This process, as it appears in `lease_owner` and event actors: `host:pid`.
    static var processIdentity: String {
        "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// Turns a `--database` value into a store.
enum StoreLocation {
    static func open(_ location: String) throws -> any RunStore {
        if location.isEmpty {
            throw KilnError(.invalidArgument, "--database is empty; give a SQLite file path")
        }
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            return try PostgresRunStore(url: location)
        }
        if location.contains("://") {
            let scheme = location.prefix(while: { $0 != ":" })
            throw KilnError(
                .invalidArgument, "--database: unsupported scheme \"\(scheme.prefix(20))\"; give a SQLite file path or a postgres:// URL")
        }
        let path = location.hasPrefix("sqlite:") ? String(location.dropFirst("sqlite:".count)) : location
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw KilnError(.invalidArgument, "--database \(path) is a directory; give a SQLite file path")
        }
        return try SQLiteRunStore(path: path)
    }
}

/// JSON for people and programs: sorted keys, pretty, no escaped slashes.
enum Output {
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
