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
    }
}
