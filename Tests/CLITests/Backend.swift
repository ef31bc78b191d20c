import Foundation
import KilnDomain
import KilnPostgres
import KilnSQLite
import KilnTestSupport

/// Where a test's runs live: a SQLite file, or a fresh database on the test PostgreSQL server.
enum Backend: String, CaseIterable, Sendable {
    case sqlite, postgres

    func location(for kiln: KilnProcess) async throws -> String {
        switch self {
        case .sqlite: kiln.databasePath
        case .postgres: try await TestPostgres.freshDatabase()
        }
    }

    /// A scratch `kiln` on this backend, and the application's own connection to its database.
    func kilnAndApp() async throws -> (KilnProcess, any RunStore) {
        var kiln = try KilnProcess()
        switch self {
        case .sqlite:
            return (kiln, try SQLiteRunStore(path: kiln.databasePath))
        case .postgres:
            let url = try await TestPostgres.freshDatabase()
            kiln.database = url
            return (kiln, try PostgresRunStore(url: url))
        }
    }
}
