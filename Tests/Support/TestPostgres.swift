import Foundation
import KilnDomain
import KilnPostgres

/// The throwaway PostgreSQL server `scripts/test` starts (`KILN_TEST_POSTGRES_URL`). A test
/// that needs it fails when it is missing: no PostgreSQL test is skipped silently.
public enum TestPostgres {
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["KILN_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw KilnError(
                .invalidConfiguration,
                "KILN_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts a PostgreSQL server")
        }
        return url
    }

    /// A new, empty database on the test server; its URL.
    public static func freshDatabase() async throws -> String {
        let server = try serverURL()
        let name = "kiln_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try await execute("CREATE DATABASE \(name)", url: server)
        guard var components = URLComponents(string: server) else {
            throw KilnError(.invalidConfiguration, "KILN_TEST_POSTGRES_URL is not a URL")
        }
        components.path = "/\(name)"
        return components.string ?? server
    }

    /// Runs one SQL statement as a client in another language would.
    public static func execute(_ sql: String, url: String) async throws {
        let store = try PostgresRunStore(url: url, maxConnections: 1)
        try await store.executeForTests(sql)
        store.shutdown()
    }
}

/// A PostgreSQL server of one test's own (`scripts/postgres-server`), for tests that restart
/// it: the shared test server must stay up for the tests running beside them.
///
/// The script is run with `system()` on a Dispatch thread: the server it starts is a daemon
/// that inherits the script's descriptors, and Foundation's `Process` on Linux waits for
/// those to close, which would be for ever.
public struct OwnPostgresServer: Sendable {
    public let directory: String
    public let url: String

    static var script: String {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root.appendingPathComponent("scripts/postgres-server").path
    }

    public static func start() async throws -> OwnPostgresServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-own-pg-\(UUID().uuidString.prefix(8))").path
        let urlFile = directory + ".url"
        try await Self.shell("'\(script)' start '\(directory)' > '\(urlFile)' < /dev/null")
        let url = try String(contentsOfFile: urlFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try? FileManager.default.removeItem(atPath: urlFile)
        return OwnPostgresServer(directory: directory, url: url)
    }

    /// `pg_ctl restart -m fast`: every connection is closed by the server.
    public func restart() async throws {
        try await Self.shell("'\(Self.script)' restart '\(directory)' < /dev/null")
    }

    public func stop() async {
        try? await Self.shell("'\(Self.script)' stop '\(directory)' < /dev/null")
    }

    static func shell(_ command: String) async throws {
        let status = try await offThePool { system(command) }
        guard status == 0 else { throw KilnError(.database, "`\(command)` exited with \(status)") }
    }
}
