import GRDB

extension SQLiteSchema {
    /// Limits per tenant and feature (``QuotaCheck``): why a queued run waits, what an in-flight
    /// run reserved against its cost caps, tenants' own limits, and the indexes the check reads.
    static func registerQuotas(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9_quotas") { db in
            try db.execute(
                sql: """
                    ALTER TABLE ai_runs ADD COLUMN wait_reason TEXT;
                    ALTER TABLE ai_runs ADD COLUMN reserved_cost_micros INTEGER;
                    CREATE INDEX ai_runs_in_flight_tenant ON ai_runs (tenant_id) WHERE status IN ('submitting','in_progress');
                    CREATE INDEX ai_runs_waiting ON ai_runs (wait_reason) WHERE status = 'queued' AND wait_reason IS NOT NULL;
                    CREATE INDEX kiln_usage_daily_feature ON kiln_usage_daily (feature, day);
                    CREATE TABLE kiln_tenant_quotas (
                        tenant_id TEXT PRIMARY KEY,
                        max_in_flight INTEGER CHECK (max_in_flight IS NULL OR max_in_flight >= 0),
                        daily_cost_micros INTEGER CHECK (daily_cost_micros IS NULL OR daily_cost_micros >= 0),
                        monthly_cost_micros INTEGER CHECK (monthly_cost_micros IS NULL OR monthly_cost_micros >= 0),
                        updated_at TEXT NOT NULL DEFAULT \(now)
                    );
                    """)
        }
        migrator.registerMigration("v10_operator") { db in
            // The dashboard's listings: newest first under each filter, and lookups by any id.
            try db.execute(
                sql: """
                    CREATE INDEX ai_runs_status_created ON ai_runs (status, created_at);
                    CREATE INDEX ai_runs_feature_created ON ai_runs (feature, created_at);
                    CREATE INDEX ai_runs_created ON ai_runs (created_at);
                    CREATE INDEX ai_runs_error_code ON ai_runs (json_extract(error, '$.code'), created_at) WHERE error IS NOT NULL;
                    CREATE INDEX ai_runs_idempotency ON ai_runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
                    CREATE INDEX ai_runs_subject_created ON ai_runs (subject_type, subject_id, created_at);
                    CREATE INDEX ai_run_events_quota ON ai_run_events (at) WHERE kind = 'quota_exhausted';
                    """)
        }
        migrator.registerMigration("v11_batches") { db in
            // The batch lane (``KilnBatch``): a batch's row, and the runs it holds.
            try db.execute(
                sql: """
                    CREATE TABLE kiln_batches (
                        id TEXT PRIMARY KEY,
                        model TEXT NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('gathering','sealed','uploaded','creating','submitted','collecting','done')),
                        request_count INTEGER NOT NULL DEFAULT 0,
                        bytes INTEGER NOT NULL DEFAULT 0,
                        opened_at TEXT NOT NULL,
                        due_at TEXT NOT NULL,
                        lease_owner TEXT,
                        lease_expires_at TEXT,
                        input_file_id TEXT,
                        provider_batch_id TEXT,
                        provider_status TEXT,
                        output_file_id TEXT,
                        error_file_id TEXT,
                        cancel_sent_at TEXT,
                        tries INTEGER NOT NULL DEFAULT 0,
                        error TEXT,
                        updated_at TEXT NOT NULL,
                        ended_at TEXT
                    );
                    CREATE INDEX kiln_batches_due ON kiln_batches (due_at) WHERE state <> 'done';
                    CREATE INDEX kiln_batches_gathering ON kiln_batches (model) WHERE state = 'gathering';
                    CREATE INDEX kiln_batches_provider ON kiln_batches (provider_batch_id) WHERE provider_batch_id IS NOT NULL;
                    ALTER TABLE ai_runs ADD COLUMN batch_id TEXT;
                    CREATE INDEX ai_runs_batch ON ai_runs (batch_id) WHERE batch_id IS NOT NULL;
                    """)
        }
    }
}
