import Logging
import PostgresNIO

/// The migrations since long documents: their trees, fair share between tenants, usage per day.
extension PostgresSchema {
    static let treeMigration: (String, [String]) = (
        // Long documents: children point at their parent, with their level, place and the range
        // of the parent's text they cover. A child that ends makes its parent due, so the next
        // level starts at once (unless a worker holds the parent: it looks again soon).
        "v6_document_trees",
        [
            """
            ALTER TABLE ai_runs ADD COLUMN parent_run_id text, ADD COLUMN chunk_index integer, ADD COLUMN level integer,
                ADD COLUMN char_start bigint, ADD COLUMN char_end bigint
            """,
            "CREATE UNIQUE INDEX ai_runs_tree ON ai_runs (parent_run_id, level, chunk_index) WHERE parent_run_id IS NOT NULL",
            """
            CREATE FUNCTION kiln_child_finished() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.parent_run_id IS NOT NULL AND OLD.status IN ('queued', 'submitting', 'in_progress')
                    AND NEW.status NOT IN ('queued', 'submitting', 'in_progress') THEN
                    UPDATE ai_runs SET next_poll_at = NEW.updated_at
                    WHERE id = NEW.parent_run_id AND status = 'in_progress' AND lease_owner IS NULL
                        AND next_poll_at > NEW.updated_at;
                    PERFORM pg_notify('kiln_runs', 'child');
                END IF;
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER ai_runs_child_finished AFTER UPDATE OF status ON ai_runs
                FOR EACH ROW EXECUTE FUNCTION kiln_child_finished()
            """,
        ]
    )

    static let fairShareMigration: (String, [String]) = (
        // Fair share between tenants: the submission claim skip-scans the tenants with due runs.
        "v7_fair_share",
        ["CREATE INDEX ai_runs_queued_tenant ON ai_runs (tenant_id, available_at, id) WHERE status = 'queued'"]
    )

    static let usageMigration: (String, [String]) = (
        // What each tenant spent, per feature, model and UTC day: kept when runs are pruned,
        // written by the table itself when a run ends (and when an orphan's cost is found). A long
        // document's parent counts as the run; its tokens and cost are its children's, under its feature.
        "v8_usage_daily",
        [
            """
            CREATE TABLE kiln_usage_daily (
                day date NOT NULL,
                tenant_id text NOT NULL,
                feature text NOT NULL,
                model text NOT NULL,
                runs bigint NOT NULL DEFAULT 0,
                input_tokens bigint NOT NULL DEFAULT 0,
                output_tokens bigint NOT NULL DEFAULT 0,
                cached_input_tokens bigint NOT NULL DEFAULT 0,
                reasoning_tokens bigint NOT NULL DEFAULT 0,
                cost_micros bigint NOT NULL DEFAULT 0,
                PRIMARY KEY (day, tenant_id, feature, model)
            )
            """,
            "CREATE INDEX kiln_usage_daily_tenant ON kiln_usage_daily (tenant_id, day)",
            """
            CREATE VIEW ai_spend_daily AS
                SELECT day, tenant_id, feature, model, runs, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens,
                    cost_micros FROM kiln_usage_daily
            """,
            "CREATE INDEX ai_runs_finalized ON ai_runs (finalized_at) WHERE finalized_at IS NOT NULL",
            """
            CREATE FUNCTION kiln_usage() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                owner_feature text := coalesce((SELECT p.feature FROM ai_runs p WHERE p.id = NEW.parent_run_id), NEW.feature);
            BEGIN
                IF OLD.status IN ('queued', 'submitting', 'in_progress') AND NEW.status NOT IN ('queued', 'submitting', 'in_progress') THEN
                    INSERT INTO kiln_usage_daily (day, tenant_id, feature, model, runs, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_micros)
                    VALUES ((coalesce(NEW.finalized_at, NEW.updated_at) AT TIME ZONE 'UTC')::date, NEW.tenant_id, owner_feature,
                        coalesce(NEW.policy->>'model', ''),
                        CASE WHEN NEW.parent_run_id IS NULL AND NOT EXISTS (
                            SELECT 1 FROM ai_run_events e WHERE e.run_id = NEW.id AND e.kind = 'resumed') THEN 1 ELSE 0 END,
                        CASE WHEN NEW.parent_run_id IS NULL AND NEW.level IS NOT NULL THEN 0 ELSE coalesce((NEW.usage->>'input_tokens')::bigint, 0) END,
                        CASE WHEN NEW.parent_run_id IS NULL AND NEW.level IS NOT NULL THEN 0 ELSE coalesce((NEW.usage->>'output_tokens')::bigint, 0) END,
                        CASE WHEN NEW.parent_run_id IS NULL AND NEW.level IS NOT NULL THEN 0 ELSE coalesce((NEW.usage->>'cached_input_tokens')::bigint, 0) END,
                        CASE WHEN NEW.parent_run_id IS NULL AND NEW.level IS NOT NULL THEN 0 ELSE coalesce((NEW.usage->>'reasoning_tokens')::bigint, 0) END,
                        CASE WHEN NEW.parent_run_id IS NULL AND NEW.level IS NOT NULL THEN 0 ELSE coalesce(NEW.cost_micros, 0) END)
                    ON CONFLICT (day, tenant_id, feature, model) DO UPDATE SET runs = kiln_usage_daily.runs + excluded.runs,
                        input_tokens = kiln_usage_daily.input_tokens + excluded.input_tokens,
                        output_tokens = kiln_usage_daily.output_tokens + excluded.output_tokens,
                        cached_input_tokens = kiln_usage_daily.cached_input_tokens + excluded.cached_input_tokens,
                        reasoning_tokens = kiln_usage_daily.reasoning_tokens + excluded.reasoning_tokens,
                        cost_micros = kiln_usage_daily.cost_micros + excluded.cost_micros;
                ELSIF NEW.orphan_cost_micros > OLD.orphan_cost_micros AND NEW.status = OLD.status THEN
                    INSERT INTO kiln_usage_daily (day, tenant_id, feature, model, cost_micros)
                    VALUES ((now() AT TIME ZONE 'UTC')::date, NEW.tenant_id, owner_feature, coalesce(NEW.policy->>'model', ''),
                        NEW.orphan_cost_micros - OLD.orphan_cost_micros)
                    ON CONFLICT (day, tenant_id, feature, model) DO UPDATE
                        SET cost_micros = kiln_usage_daily.cost_micros + excluded.cost_micros;
                END IF;
                RETURN NULL;
            END $$
            """,
            """
            CREATE TRIGGER ai_runs_usage AFTER UPDATE OF status, orphan_cost_micros ON ai_runs
                FOR EACH ROW EXECUTE FUNCTION kiln_usage()
            """,
            """
            INSERT INTO kiln_usage_daily (day, tenant_id, feature, model, runs, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_micros)
            SELECT (r.finalized_at AT TIME ZONE 'UTC')::date, r.tenant_id, coalesce(p.feature, r.feature), coalesce(r.policy->>'model', ''),
                sum(CASE WHEN r.parent_run_id IS NULL THEN 1 ELSE 0 END),
                sum(CASE WHEN r.parent_run_id IS NULL AND r.level IS NOT NULL THEN 0 ELSE coalesce((r.usage->>'input_tokens')::bigint, 0) END),
                sum(CASE WHEN r.parent_run_id IS NULL AND r.level IS NOT NULL THEN 0 ELSE coalesce((r.usage->>'output_tokens')::bigint, 0) END),
                sum(CASE WHEN r.parent_run_id IS NULL AND r.level IS NOT NULL THEN 0 ELSE coalesce((r.usage->>'cached_input_tokens')::bigint, 0) END),
                sum(CASE WHEN r.parent_run_id IS NULL AND r.level IS NOT NULL THEN 0 ELSE coalesce((r.usage->>'reasoning_tokens')::bigint, 0) END),
                sum(CASE WHEN r.parent_run_id IS NULL AND r.level IS NOT NULL THEN 0 ELSE coalesce(r.cost_micros, 0) END) + sum(r.orphan_cost_micros)
            FROM ai_runs r LEFT JOIN ai_runs p ON p.id = r.parent_run_id
            WHERE r.finalized_at IS NOT NULL
            GROUP BY 1, 2, 3, 4
            """,
        ]
    )

    static let erasureMigration: (String, [String]) = (
        // Right to erasure and the provider's copies: a tombstone keeps ids, times, usage and cost
        // once input and output are gone; responses are deleted at the provider after finalization
        // (provider.delete_after_finalize) and on erasure, retried until done.
        "v9_erasure",
        [
            """
            ALTER TABLE ai_runs ADD COLUMN erased_at timestamptz, ADD COLUMN provider_deleted_at timestamptz,
                ADD COLUMN provider_delete_after timestamptz, ADD COLUMN provider_delete_attempts integer NOT NULL DEFAULT 0
            """,
            """
            CREATE INDEX ai_runs_provider_delete ON ai_runs ((coalesce(provider_delete_after, finalized_at)))
                WHERE provider_deleted_at IS NULL AND response_id IS NOT NULL AND finalized_at IS NOT NULL
            """,
            """
            CREATE INDEX ai_runs_provider_delete_scheduled ON ai_runs (provider_delete_after)
                WHERE provider_delete_after IS NOT NULL AND provider_deleted_at IS NULL AND response_id IS NOT NULL
            """,
            "CREATE INDEX ai_runs_tenant_subject ON ai_runs (tenant_id, subject_type, subject_id)",
            "DROP TRIGGER ai_runs_review_guard ON ai_runs",
            """
            CREATE TRIGGER ai_runs_review_guard BEFORE UPDATE OF review_state, reviewed_by, reviewed_output, displayed_at ON ai_runs
                FOR EACH ROW WHEN ((NEW.review_state IS DISTINCT FROM OLD.review_state OR NEW.reviewed_by IS DISTINCT FROM OLD.reviewed_by
                    OR NEW.reviewed_output IS DISTINCT FROM OLD.reviewed_output OR NEW.displayed_at IS DISTINCT FROM OLD.displayed_at)
                    AND NOT (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL))
                EXECUTE FUNCTION kiln_review_guard()
            """,
        ]
    )

    static let quotaMigration: (String, [String]) = (
        // Limits per tenant and feature (QuotaCheck): why a queued run waits, what an in-flight run
        // reserved against its cost caps, tenants' own limits, and the indexes the check reads.
        "v10_quotas",
        [
            "ALTER TABLE ai_runs ADD COLUMN wait_reason text, ADD COLUMN reserved_cost_micros bigint",
            "CREATE INDEX ai_runs_in_flight_tenant ON ai_runs (tenant_id) WHERE status IN ('submitting', 'in_progress')",
            "CREATE INDEX ai_runs_waiting ON ai_runs (wait_reason) WHERE status = 'queued' AND wait_reason IS NOT NULL",
            "CREATE INDEX kiln_usage_daily_feature ON kiln_usage_daily (feature, day)",
            """
            CREATE TABLE kiln_tenant_quotas (
                tenant_id text PRIMARY KEY,
                max_in_flight integer CHECK (max_in_flight IS NULL OR max_in_flight >= 0),
                daily_cost_micros bigint CHECK (daily_cost_micros IS NULL OR daily_cost_micros >= 0),
                monthly_cost_micros bigint CHECK (monthly_cost_micros IS NULL OR monthly_cost_micros >= 0),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
        ]
    )
}
