import Foundation
import GRDB
import KilnDomain
import KilnPostgres
import KilnSQLite
import KilnTestSupport
import PostgresNIO
import Testing

/// A store backend the conformance suite runs against: the real databases, and the
/// in-memory store the fast worker tests use (held to the same contract).
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres
    case memory

    /// The backends an application in another language writes with SQL.
    static let sqlBackends: [StoreKind] = [.sqlite, .postgres]

    var testDescription: String { rawValue }

    /// A fresh, migrated, empty database of this kind, and a second handle on the same
    /// database (another connection pool, as another process would have).
    func makeStores() async throws -> StoreFixture {
        switch self {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-store-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("runs.sqlite").path
            let first = try SQLiteRunStore(path: path)
            try await first.migrate()
            let second = try SQLiteRunStore(path: path)
            try await second.migrate()
            return StoreFixture(store: first, other: second) { sql in
                let queue = try DatabaseQueue(path: path)
                try await queue.write { db in try db.execute(sql: sql) }
            }
        case .postgres:
            let url = try await TestPostgres.freshDatabase()
            let first = try PostgresRunStore(url: url)
            try await first.migrate()
            let second = try PostgresRunStore(url: url)
            try await second.migrate()
            return StoreFixture(store: first, other: second) { sql in
                try await TestPostgres.execute(sql, url: url)
            }
        case .memory:
            let store = InMemoryRunStore()
            return StoreFixture(store: store, other: store) { _ in
                throw KilnError(.invalidArgument, "the in-memory store takes no SQL")
            }
        }
    }
}

struct StoreFixture: Sendable {
    let store: any RunStore
    let other: any RunStore
    /// Runs SQL as an application in another language would, outside Kiln.
    let executeSQL: @Sendable (String) async throws -> Void
}
