import GRDB

/// The versioned migrations of the `ai_runs` contract on SQLite.
///
/// Migrations only ever add (columns with defaults, tables, indexes), so an application
/// written against an older version of the contract keeps working. Timestamps are contract
/// text (``KilnDomain/Timestamp``): fixed width, so they compare correctly as text.
enum SQLiteSchema {
    static let now = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1_ai_runs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE ai_runs (
                        id TEXT PRIMARY KEY NOT NULL,
                        tenant_id TEXT NOT NULL,
                        user_id TEXT,
                        feature TEXT NOT NULL,
                        subject_type TEXT,
                        subject_id TEXT,
                        idempotency_key TEXT,
                        input TEXT NOT NULL CHECK (json_valid(input)),
                        policy TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(policy)),
                        status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN
                            ('queued','submitting','in_progress','completed','failed','incomplete','cancelled','timed_out')),
                        attempt INTEGER NOT NULL DEFAULT 0,
                        response_id TEXT,
                        provider_status TEXT,
                        output TEXT,
                        error TEXT,
                        usage TEXT,
                        cost_micros INTEGER,
                        poll_count INTEGER NOT NULL DEFAULT 0,
                        next_poll_at TEXT,
                        available_at TEXT NOT NULL DEFAULT \(now),
                        lease_owner TEXT,
                        lease_expires_at TEXT,
                        cancel_requested_at TEXT,
                        review_state TEXT,
                        prompt_version TEXT,
                        send_started_at TEXT,
                        created_at TEXT NOT NULL DEFAULT \(now),
                        submitted_at TEXT,
                        provider_completed_at TEXT,
                        finalized_at TEXT,
                        updated_at TEXT NOT NULL DEFAULT \(now)
                    );
                    -- "What is due now" reads only due rows: one partial index per claim kind.
                    CREATE INDEX ai_runs_queued_due ON ai_runs (available_at) WHERE status = 'queued';
                    CREATE INDEX ai_runs_poll_due ON ai_runs (next_poll_at) WHERE status = 'in_progress';
                    CREATE INDEX ai_runs_submitting_lease ON ai_runs (lease_expires_at) WHERE status = 'submitting';
                    CREATE UNIQUE INDEX ai_runs_tenant_idempotency ON ai_runs (tenant_id, idempotency_key)
                        WHERE idempotency_key IS NOT NULL;
                    CREATE INDEX ai_runs_tenant_created ON ai_runs (tenant_id, created_at);
                    CREATE INDEX ai_runs_status ON ai_runs (status);
                    CREATE INDEX ai_runs_response ON ai_runs (response_id) WHERE response_id IS NOT NULL;

                    CREATE TABLE ai_run_events (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        run_id TEXT NOT NULL REFERENCES ai_runs (id) ON DELETE CASCADE,
                        from_status TEXT,
                        to_status TEXT NOT NULL,
                        at TEXT NOT NULL DEFAULT \(now),
                        actor TEXT NOT NULL,
                        kind TEXT NOT NULL DEFAULT 'transition',
                        details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
                    );
                    CREATE INDEX ai_run_events_run ON ai_run_events (run_id, id);
                    CREATE INDEX ai_run_events_kind ON ai_run_events (kind) WHERE kind = 'possible_duplicate';
                    """)
        }
        migrator.registerMigration("v2_learned_run_times") { db in
            // What the poll schedule learns from: recent completed runs of a feature.
            try db.execute(
                sql: "CREATE INDEX ai_runs_completed_feature ON ai_runs (feature, finalized_at) WHERE status = 'completed'")
        }
        return migrator
    }
}
