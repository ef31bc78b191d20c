import Foundation

/// Locks held by another process, as a busy application or an operator's session would
/// hold them: the database is real and the wait is real.
public enum DatabaseLocks {
    /// Holds an exclusive lock on the SQLite file at `path` for `seconds` from a Python
    /// process; returns once the lock is held. Await `exited()` for its end.
    public static func sqlite(_ path: String, for seconds: Double) async throws -> Process {
        try await holding([
            "python3", "-c",
            """
            import sqlite3, sys, time
            db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
            db.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(float(sys.argv[2]))
            db.execute("COMMIT")
            """, path, String(seconds),
        ])
    }

    /// Holds the row of `runID` in `ai_runs` (`SELECT … FOR UPDATE`) on the PostgreSQL
    /// database at `url` for `seconds` from a `psql` session; returns once the row is held.
    public static func postgresRow(_ runID: String, url: String, for seconds: Double) async throws -> Process {
        try await holding([
            "psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-At", "-c", "BEGIN",
            "-c", "SELECT 'locked' FROM ai_runs WHERE id = '\(runID)' FOR UPDATE", "-c", "SELECT pg_sleep(\(seconds))",
            "-c", "COMMIT",
        ])
    }

    private static func holding(_ arguments: [String]) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let first = try await offThePool { pipe.fileHandleForReading.availableData }
        guard String(decoding: first, as: UTF8.self).contains("locked") else {
            process.terminate()
            throw HoldError(description: "`\(arguments[0])` did not take the lock")
        }
        return process
    }

    struct HoldError: Error, CustomStringConvertible {
        let description: String
    }
}
