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
        migrator.registerMigration("v3_reviews") { db in
            // A review decision and a display are the app's to write, from any language: these
            // triggers refuse what is not a decision on a completed run and audit every one.
            let final = "('accepted','edited','discarded')"
            try db.execute(
                sql: """
                    ALTER TABLE ai_runs ADD COLUMN reviewed_by TEXT;
                    ALTER TABLE ai_runs ADD COLUMN reviewed_at TEXT;
                    ALTER TABLE ai_runs ADD COLUMN reviewed_output TEXT CHECK (reviewed_output IS NULL OR json_valid(reviewed_output));
                    ALTER TABLE ai_runs ADD COLUMN displayed_at TEXT;
                    ALTER TABLE ai_runs ADD COLUMN displayed_by TEXT;

                    \(reviewGuard(final: final, erasable: false))

                    CREATE TRIGGER ai_runs_review_event AFTER UPDATE OF review_state ON ai_runs
                    WHEN NEW.review_state IS NOT OLD.review_state AND NEW.review_state IN \(final)
                    BEGIN
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        VALUES (NEW.id, NEW.status, NEW.status, coalesce(NEW.reviewed_at, \(now)), NEW.reviewed_by, 'reviewed',
                            json_object('review_state', NEW.review_state, 'previous', OLD.review_state,
                                'edited', json(CASE WHEN NEW.reviewed_output IS NULL THEN 'false' ELSE 'true' END)));
                        UPDATE ai_runs SET reviewed_at = \(now) WHERE id = NEW.id AND reviewed_at IS NULL;
                    END;

                    CREATE TRIGGER ai_runs_display_guard BEFORE UPDATE OF displayed_at ON ai_runs
                    WHEN NEW.displayed_at IS NOT OLD.displayed_at
                    BEGIN
                        SELECT RAISE(ABORT, 'kiln: display refused: only a completed run can be displayed')
                            WHERE OLD.status <> 'completed';
                        SELECT RAISE(ABORT, 'kiln: display refused: displayed_at cannot be cleared')
                            WHERE NEW.displayed_at IS NULL;
                    END;

                    CREATE TRIGGER ai_runs_display_event AFTER UPDATE OF displayed_at ON ai_runs
                    WHEN NEW.displayed_at IS NOT OLD.displayed_at
                    BEGIN
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        VALUES (NEW.id, NEW.status, NEW.status, NEW.displayed_at, coalesce(NEW.displayed_by, 'app'), 'displayed', '{}');
                    END;

                    CREATE TRIGGER ai_runs_insert_unreviewed BEFORE INSERT ON ai_runs
                    WHEN NEW.review_state IS NOT NULL OR NEW.reviewed_by IS NOT NULL OR NEW.reviewed_output IS NOT NULL
                        OR NEW.displayed_at IS NOT NULL
                    BEGIN
                        SELECT RAISE(ABORT, 'kiln: a new run has no review and was not displayed');
                    END;
                    """)
        }
        migrator.registerMigration("v4_webhooks") { db in
            // Webhook deliveries, remembered by webhook-id for OpenAI's 72 h of retries; those whose
            // response no in-flight run holds wait for the poller to look at the provider.
            try db.execute(
                sql: """
                    ALTER TABLE ai_runs ADD COLUMN orphan_cost_micros INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE ai_runs ADD COLUMN provider_started_at TEXT;
                    CREATE TABLE kiln_webhook_deliveries (
                        webhook_id TEXT PRIMARY KEY NOT NULL,
                        event_type TEXT NOT NULL,
                        response_id TEXT,
                        received_at TEXT NOT NULL,
                        expires_at TEXT NOT NULL,
                        handled_at TEXT,
                        claimed_by TEXT,
                        claim_expires_at TEXT
                    );
                    CREATE INDEX kiln_webhook_deliveries_expiry ON kiln_webhook_deliveries (expires_at);
                    CREATE INDEX kiln_webhook_deliveries_unhandled ON kiln_webhook_deliveries (received_at)
                        WHERE handled_at IS NULL;
                    CREATE INDEX ai_run_events_orphans ON ai_run_events (kind) WHERE kind = 'orphan_response';
                    """)
        }
        migrator.registerMigration("v5_document_trees") { db in
            // Long documents: children point at their parent, with their level, place and the
            // range of the parent's text they cover. A child that ends makes its parent due, so
            // the next level starts at once (unless a worker holds the parent: it looks again soon).
            try db.execute(
                sql: """
                    ALTER TABLE ai_runs ADD COLUMN parent_run_id TEXT;
                    ALTER TABLE ai_runs ADD COLUMN chunk_index INTEGER;
                    ALTER TABLE ai_runs ADD COLUMN level INTEGER;
                    ALTER TABLE ai_runs ADD COLUMN char_start INTEGER;
                    ALTER TABLE ai_runs ADD COLUMN char_end INTEGER;
                    CREATE UNIQUE INDEX ai_runs_tree ON ai_runs (parent_run_id, level, chunk_index)
                        WHERE parent_run_id IS NOT NULL;
                    CREATE TRIGGER ai_runs_child_finished AFTER UPDATE OF status ON ai_runs
                    WHEN NEW.parent_run_id IS NOT NULL
                        AND OLD.status IN ('queued','submitting','in_progress')
                        AND NEW.status NOT IN ('queued','submitting','in_progress')
                    BEGIN
                        UPDATE ai_runs SET next_poll_at = NEW.updated_at
                        WHERE id = NEW.parent_run_id AND status = 'in_progress' AND lease_owner IS NULL
                            AND next_poll_at > NEW.updated_at;
                    END;
                    """)
        }
        migrator.registerMigration("v6_fair_share") { db in
            // Fair share between tenants: the submission claim skip-scans the tenants with due runs.
            try db.execute(
                sql: "CREATE INDEX ai_runs_queued_tenant ON ai_runs (tenant_id, available_at, id) WHERE status = 'queued'")
        }
        migrator.registerMigration("v7_usage_daily") { db in
            // What each tenant spent, per feature, model and UTC day: kept when runs are pruned,
            // written by the table itself when a run ends (and when an orphan's cost is found), so
            // runs an app finalizes or prunes by SQL count the same. A long document's parent
            // counts as the run; its tokens and cost are its children's, under its feature.
            try db.execute(
                sql: """
                    CREATE TABLE kiln_usage_daily (
                        day TEXT NOT NULL,
                        tenant_id TEXT NOT NULL,
                        feature TEXT NOT NULL,
                        model TEXT NOT NULL,
                        runs INTEGER NOT NULL DEFAULT 0,
                        input_tokens INTEGER NOT NULL DEFAULT 0,
                        output_tokens INTEGER NOT NULL DEFAULT 0,
                        cached_input_tokens INTEGER NOT NULL DEFAULT 0,
                        reasoning_tokens INTEGER NOT NULL DEFAULT 0,
                        cost_micros INTEGER NOT NULL DEFAULT 0,
                        PRIMARY KEY (day, tenant_id, feature, model)
                    );
                    CREATE INDEX kiln_usage_daily_tenant ON kiln_usage_daily (tenant_id, day);
                    CREATE VIEW ai_spend_daily AS
                        SELECT day, tenant_id, feature, model, runs, input_tokens, output_tokens, cached_input_tokens,
                            reasoning_tokens, cost_micros FROM kiln_usage_daily;
                    CREATE INDEX ai_runs_finalized ON ai_runs (finalized_at) WHERE finalized_at IS NOT NULL;
                    CREATE TRIGGER ai_runs_usage_finished AFTER UPDATE OF status ON ai_runs
                    WHEN OLD.status IN ('queued','submitting','in_progress')
                        AND NEW.status NOT IN ('queued','submitting','in_progress')
                    BEGIN
                        INSERT INTO kiln_usage_daily (day, tenant_id, feature, model, \(usageColumns))
                        VALUES (
                            substr(coalesce(NEW.finalized_at, NEW.updated_at), 1, 10), NEW.tenant_id,
                            coalesce((SELECT p.feature FROM ai_runs p WHERE p.id = NEW.parent_run_id), NEW.feature),
                            coalesce(json_extract(NEW.policy, '$.model'), ''),
                            CASE WHEN NEW.parent_run_id IS NULL AND NOT EXISTS (
                                SELECT 1 FROM ai_run_events e WHERE e.run_id = NEW.id AND e.kind = 'resumed') THEN 1 ELSE 0 END,
                            \(counted("json_extract(NEW.usage, '$.input_tokens')")),
                            \(counted("json_extract(NEW.usage, '$.output_tokens')")),
                            \(counted("json_extract(NEW.usage, '$.cached_input_tokens')")),
                            \(counted("json_extract(NEW.usage, '$.reasoning_tokens')")),
                            \(counted("NEW.cost_micros")))
                        ON CONFLICT (day, tenant_id, feature, model) DO UPDATE SET runs = runs + excluded.runs,
                            input_tokens = input_tokens + excluded.input_tokens,
                            output_tokens = output_tokens + excluded.output_tokens,
                            cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
                            reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
                            cost_micros = cost_micros + excluded.cost_micros;
                    END;
                    CREATE TRIGGER ai_runs_usage_orphan AFTER UPDATE OF orphan_cost_micros ON ai_runs
                    WHEN NEW.orphan_cost_micros > OLD.orphan_cost_micros AND NEW.status = OLD.status
                    BEGIN
                        INSERT INTO kiln_usage_daily (day, tenant_id, feature, model, cost_micros)
                        VALUES (
                            strftime('%Y-%m-%d', 'now'), NEW.tenant_id,
                            coalesce((SELECT p.feature FROM ai_runs p WHERE p.id = NEW.parent_run_id), NEW.feature),
                            coalesce(json_extract(NEW.policy, '$.model'), ''), NEW.orphan_cost_micros - OLD.orphan_cost_micros)
                        ON CONFLICT (day, tenant_id, feature, model) DO UPDATE SET cost_micros = cost_micros + excluded.cost_micros;
                    END;
                    INSERT INTO kiln_usage_daily (day, tenant_id, feature, model, \(usageColumns))
                    SELECT substr(r.finalized_at, 1, 10), r.tenant_id, coalesce(p.feature, r.feature),
                        coalesce(json_extract(r.policy, '$.model'), ''),
                        sum(CASE WHEN r.parent_run_id IS NULL THEN 1 ELSE 0 END),
                        \(summed("json_extract(r.usage, '$.input_tokens')")),
                        \(summed("json_extract(r.usage, '$.output_tokens')")),
                        \(summed("json_extract(r.usage, '$.cached_input_tokens')")),
                        \(summed("json_extract(r.usage, '$.reasoning_tokens')")),
                        \(summed("r.cost_micros")) + sum(r.orphan_cost_micros)
                    FROM ai_runs r LEFT JOIN ai_runs p ON p.id = r.parent_run_id
                    WHERE r.finalized_at IS NOT NULL
                    GROUP BY 1, 2, 3, 4;
                    """)
        }
        migrator.registerMigration("v8_erasure") { db in
            // Right to erasure and the provider's copies: a tombstone keeps ids, times, usage and
            // cost once input and output are gone; responses are deleted at the provider after
            // finalization (provider.delete_after_finalize) and on erasure, retried until done.
            try db.execute(
                sql: """
                    ALTER TABLE ai_runs ADD COLUMN erased_at TEXT;
                    ALTER TABLE ai_runs ADD COLUMN provider_deleted_at TEXT;
                    ALTER TABLE ai_runs ADD COLUMN provider_delete_after TEXT;
                    ALTER TABLE ai_runs ADD COLUMN provider_delete_attempts INTEGER NOT NULL DEFAULT 0;
                    CREATE INDEX ai_runs_provider_delete ON ai_runs (coalesce(provider_delete_after, finalized_at))
                        WHERE provider_deleted_at IS NULL AND response_id IS NOT NULL AND finalized_at IS NOT NULL;
                    CREATE INDEX ai_runs_provider_delete_scheduled ON ai_runs (provider_delete_after)
                        WHERE provider_delete_after IS NOT NULL AND provider_deleted_at IS NULL AND response_id IS NOT NULL;
                    CREATE INDEX ai_runs_tenant_subject ON ai_runs (tenant_id, subject_type, subject_id);
                    DROP TRIGGER ai_runs_review_guard;
                    \(reviewGuard(final: "('accepted','edited','discarded')", erasable: true))
                    """)
        }
        registerQuotas(&migrator)
        return migrator
    }
}
