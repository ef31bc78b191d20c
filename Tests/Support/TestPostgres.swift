import Foundation
import KilnDomain
import KilnPostgres

/// The throwaway PostgreSQL server `scripts/test` starts (`KILN_TEST_POSTGRES_URL`). A test
/// that needs it fails when it is missing: no PostgreSQL test is skipped silently.
public enum TestPostgres {
    public static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["KILN_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw KilnError(.invalidConfiguration, "KILN_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts a PostgreSQL server")
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
