import Logging
import PostgresNIO

/// The versioned migrations of the `ai_runs` contract on PostgreSQL: the same columns as
/// SQLite with native types (`jsonb`, `timestamptz`).
///
/// Migrations run in one transaction under an advisory lock, so executors of several Kiln
/// versions starting at once during a deploy apply each migration exactly once.
enum PostgresSchema {
    /// `pg_advisory_xact_lock` key: "kiln" in ASCII.
    static let lockKey: Int64 = 0x6B69_6C6E

    static let migrations: [(String, [String])] = [
        (
            "v1_ai_runs",
            [
                """
                CREATE TABLE ai_runs (
                    id text PRIMARY KEY,
                    tenant_id text NOT NULL,
                    user_id text,
                    feature text NOT NULL,
                    subject_type text,
                    subject_id text,
                    idempotency_key text,
                    input jsonb NOT NULL,
                    policy jsonb NOT NULL DEFAULT '{}',
                    status text NOT NULL DEFAULT 'queued' CHECK (status IN
                        ('queued','submitting','in_progress','completed','failed','incomplete','cancelled','timed_out')),
                    attempt integer NOT NULL DEFAULT 0,
                    response_id text,
                    provider_status text,
                    output jsonb,
                    error jsonb,
                    usage jsonb,
                    cost_micros bigint,
                    poll_count integer NOT NULL DEFAULT 0,
                    next_poll_at timestamptz,
                    available_at timestamptz NOT NULL DEFAULT now(),
                    lease_owner text,
                    lease_expires_at timestamptz,
                    cancel_requested_at timestamptz,
                    review_state text,
                    prompt_version text,
                    send_started_at timestamptz,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    submitted_at timestamptz,
                    provider_completed_at timestamptz,
                    finalized_at timestamptz,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                // "What is due" stays cheap with millions of finalized rows: partial indexes hold only live runs.
                "CREATE INDEX ai_runs_queued_due ON ai_runs (available_at) WHERE status = 'queued'",
                "CREATE INDEX ai_runs_poll_due ON ai_runs (next_poll_at) WHERE status = 'in_progress'",
                "CREATE INDEX ai_runs_submitting_lease ON ai_runs (lease_expires_at) WHERE status = 'submitting'",
                "CREATE UNIQUE INDEX ai_runs_tenant_idempotency ON ai_runs (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
                "CREATE INDEX ai_runs_tenant_created ON ai_runs (tenant_id, created_at)",
                "CREATE INDEX ai_runs_status ON ai_runs (status)",
                "CREATE INDEX ai_runs_response ON ai_runs (response_id) WHERE response_id IS NOT NULL",
                """
                CREATE TABLE ai_run_events (
                    id bigserial PRIMARY KEY,
                    run_id text NOT NULL REFERENCES ai_runs (id) ON DELETE CASCADE,
                    from_status text,
                    to_status text NOT NULL,
                    at timestamptz NOT NULL DEFAULT now(),
                    actor text NOT NULL,
                    kind text NOT NULL DEFAULT 'transition',
                    details jsonb NOT NULL DEFAULT '{}'
                )
                """,
                "CREATE INDEX ai_run_events_run ON ai_run_events (run_id, id)",
                "CREATE INDEX ai_run_events_duplicates ON ai_run_events (kind) WHERE kind = 'possible_duplicate'",
            ]
        ),
        (
            "v2_learned_run_times",
            [
                "CREATE INDEX ai_runs_completed_feature ON ai_runs (feature, finalized_at) WHERE status = 'completed'"
            ]
        ),
        (
            "v3_notify",
            [
                // Wake executors when runs arrive or a cancel is asked for, whoever wrote the row.
                """
                CREATE FUNCTION kiln_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('kiln_runs', TG_OP);
                    RETURN NULL;
                END $$
                """,
                "CREATE TRIGGER ai_runs_insert_notify AFTER INSERT ON ai_runs FOR EACH STATEMENT EXECUTE FUNCTION kiln_notify()",
                """
                CREATE TRIGGER ai_runs_cancel_notify AFTER UPDATE OF cancel_requested_at ON ai_runs
                    FOR EACH STATEMENT EXECUTE FUNCTION kiln_notify()
                """,
            ]
        ),
        (
            // A review decision and a display are the app's to write, from any language: these
            // triggers refuse what is not a decision on a completed run (SQLSTATE KL001) and
            // audit every one, as the SQLite triggers do.
            "v4_reviews",
            [
                """
                ALTER TABLE ai_runs ADD COLUMN reviewed_by text, ADD COLUMN reviewed_at timestamptz,
                    ADD COLUMN reviewed_output jsonb, ADD COLUMN displayed_at timestamptz, ADD COLUMN displayed_by text
                """,
                """
                CREATE FUNCTION kiln_review_guard() RETURNS trigger LANGUAGE plpgsql AS $$
                DECLARE
                    final constant text[] := ARRAY['accepted', 'edited', 'discarded'];
                    problem text;
                BEGIN
                    IF NEW.review_state IS DISTINCT FROM OLD.review_state OR NEW.reviewed_by IS DISTINCT FROM OLD.reviewed_by
                        OR NEW.reviewed_output IS DISTINCT FROM OLD.reviewed_output THEN
                        IF OLD.review_state = ANY (final) THEN
                            problem := 'review refused: the run already has a final review decision';
                        ELSIF NEW.review_state IS NOT DISTINCT FROM OLD.review_state THEN
                            problem := 'review refused: reviewed_by and reviewed_output are written with a decision';
                        ELSIF NEW.review_state IS NULL OR NOT (NEW.review_state = ANY (final) OR NEW.review_state = 'pending') THEN
                            problem := 'review refused: review_state must be pending, accepted, edited or discarded';
                        ELSIF NEW.review_state = ANY (final) AND (OLD.status <> 'completed' OR NEW.status <> 'completed') THEN
                            problem := 'review refused: only a completed run can be reviewed';
                        ELSIF NEW.review_state = ANY (final) AND coalesce(NEW.reviewed_by, '') = '' THEN
                            problem := 'review refused: reviewed_by (who decided) is required';
                        ELSIF NEW.review_state = 'edited' AND NEW.reviewed_output IS NULL THEN
                            problem := 'review refused: an edited review needs reviewed_output';
                        ELSIF NEW.review_state IN ('accepted', 'discarded') AND NEW.reviewed_output IS NOT NULL THEN
                            problem := 'review refused: reviewed_output is only for an edited review';
                        ELSIF NEW.review_state = ANY (final) THEN
                            NEW.reviewed_at := coalesce(NEW.reviewed_at, now());
                        END IF;
                    END IF;
                    IF problem IS NULL AND NEW.displayed_at IS DISTINCT FROM OLD.displayed_at THEN
                        IF OLD.status <> 'completed' THEN
                            problem := 'display refused: only a completed run can be displayed';
                        ELSIF NEW.displayed_at IS NULL THEN
                            problem := 'display refused: displayed_at cannot be cleared';
                        END IF;
                    END IF;
                    IF problem IS NOT NULL THEN
                        RAISE EXCEPTION USING ERRCODE = 'KL001', MESSAGE = 'kiln: ' || problem;
                    END IF;
                    RETURN NEW;
                END $$
                """,
                """
                CREATE TRIGGER ai_runs_review_guard BEFORE UPDATE OF review_state, reviewed_by, reviewed_output, displayed_at ON ai_runs
                    FOR EACH ROW WHEN (NEW.review_state IS DISTINCT FROM OLD.review_state OR NEW.reviewed_by IS DISTINCT FROM OLD.reviewed_by
                        OR NEW.reviewed_output IS DISTINCT FROM OLD.reviewed_output OR NEW.displayed_at IS DISTINCT FROM OLD.displayed_at)
                    EXECUTE FUNCTION kiln_review_guard()
                """,
                """
                CREATE FUNCTION kiln_review_event() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.review_state IS DISTINCT FROM OLD.review_state AND NEW.review_state IN ('accepted', 'edited', 'discarded') THEN
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        VALUES (NEW.id, NEW.status, NEW.status, NEW.reviewed_at, NEW.reviewed_by, 'reviewed',
                            jsonb_build_object('review_state', NEW.review_state, 'previous', OLD.review_state,
                                'edited', NEW.reviewed_output IS NOT NULL));
                    END IF;
                    IF NEW.displayed_at IS DISTINCT FROM OLD.displayed_at THEN
                        INSERT INTO ai_run_events (run_id, from_status, to_status, at, actor, kind, details)
                        VALUES (NEW.id, NEW.status, NEW.status, NEW.displayed_at, coalesce(NEW.displayed_by, 'app'), 'displayed', '{}');
                    END IF;
                    RETURN NULL;
                END $$
                """,
                """
                CREATE TRIGGER ai_runs_review_event AFTER UPDATE OF review_state, displayed_at ON ai_runs
                    FOR EACH ROW WHEN (NEW.review_state IS DISTINCT FROM OLD.review_state OR NEW.displayed_at IS DISTINCT FROM OLD.displayed_at)
                    EXECUTE FUNCTION kiln_review_event()
                """,
                """
                CREATE FUNCTION kiln_insert_unreviewed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION USING ERRCODE = 'KL001', MESSAGE = 'kiln: a new run has no review and was not displayed';
                END $$
                """,
                """
                CREATE TRIGGER ai_runs_insert_unreviewed BEFORE INSERT ON ai_runs
                    FOR EACH ROW WHEN (NEW.review_state IS NOT NULL OR NEW.reviewed_by IS NOT NULL OR NEW.reviewed_output IS NOT NULL
                        OR NEW.displayed_at IS NOT NULL)
                    EXECUTE FUNCTION kiln_insert_unreviewed()
                """,
            ]
        ),
    ]

    static let webhookMigration: (String, [String]) = (
        // Webhook deliveries, remembered by webhook-id for OpenAI's 72 h of retries; those whose
        // response no in-flight run holds wait for the poller to look at the provider.
        "v5_webhooks",
        [
            "ALTER TABLE ai_runs ADD COLUMN orphan_cost_micros bigint NOT NULL DEFAULT 0, ADD COLUMN provider_started_at timestamptz",
            """
            CREATE TABLE kiln_webhook_deliveries (
                webhook_id text PRIMARY KEY,
                event_type text NOT NULL,
                response_id text,
                received_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL,
                handled_at timestamptz,
                claimed_by text,
                claim_expires_at timestamptz
            )
            """,
            "CREATE INDEX kiln_webhook_deliveries_expiry ON kiln_webhook_deliveries (expires_at)",
            "CREATE INDEX kiln_webhook_deliveries_unhandled ON kiln_webhook_deliveries (received_at) WHERE handled_at IS NULL",
            "CREATE INDEX ai_run_events_orphans ON ai_run_events (kind) WHERE kind = 'orphan_response'",
        ]
    )

    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS kiln_schema_migrations (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied: Set<String> = []
            for try await version in try await connection.query("SELECT version FROM kiln_schema_migrations", logger: logger).decode(
                String.self)
            {
                applied.insert(version)
            }
            for (version, statements) in migrations + [
                webhookMigration, treeMigration, fairShareMigration, usageMigration, erasureMigration, quotaMigration,
                PostgresRunStore.operatorMigration, PostgresRunStore.batchMigration,
            ]
            where !applied.contains(version) {
                for statement in statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO kiln_schema_migrations (version) VALUES (\(version))", logger: logger)
            }
        }
    }
}
