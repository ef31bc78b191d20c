import GRDB
import KilnSQLite

extension SQLiteRunStore {
    /// Inserts a run with only the four required columns, as an app in another language would.
    func insertRaw(id: String) async throws {
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(
                sql:
                    "INSERT INTO ai_runs (id, tenant_id, feature, input) VALUES (?, 'acme', 'document_summary', '{\"text\":\"From PHP.\"}')",
                arguments: [id])
        }
    }
}

extension SQLiteRunStore {
    /// Runs SQL outside Kiln, as an operator or another application would.
    func execute(_ sql: String) async throws {
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in try db.execute(sql: sql) }
    }
}
