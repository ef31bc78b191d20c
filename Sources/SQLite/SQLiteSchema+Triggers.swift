/// Pieces of the migrations' triggers, shared by more than one migration.
extension SQLiteSchema {
    static let usageColumns = "runs, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost_micros"

    /// A finished run's `value` as the usage table counts it: nothing for a long document's
    /// parent (its children carry its tokens and cost).
    static func counted(_ value: String) -> String {
        "CASE WHEN NEW.parent_run_id IS NULL AND NEW.level IS NOT NULL THEN 0 ELSE coalesce(\(value), 0) END"
    }

    static func summed(_ value: String) -> String {
        "sum(CASE WHEN r.parent_run_id IS NULL AND r.level IS NOT NULL THEN 0 ELSE coalesce(\(value), 0) END)"
    }

    /// The trigger that guards review decisions (v3); from v8 an erasure (which sets
    /// `erased_at` and clears `reviewed_output`) passes it.
    static func reviewGuard(final: String, erasable: Bool) -> String {
        """
        CREATE TRIGGER ai_runs_review_guard BEFORE UPDATE OF review_state, reviewed_by, reviewed_output ON ai_runs
        WHEN (NEW.review_state IS NOT OLD.review_state OR NEW.reviewed_by IS NOT OLD.reviewed_by
            OR NEW.reviewed_output IS NOT OLD.reviewed_output)\(erasable ? " AND NOT (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL)" : "")
        BEGIN
            SELECT RAISE(ABORT, 'kiln: review refused: the run already has a final review decision')
                WHERE OLD.review_state IN \(final);
            SELECT RAISE(ABORT, 'kiln: review refused: reviewed_by and reviewed_output are written with a decision')
                WHERE NEW.review_state IS OLD.review_state;
            SELECT RAISE(ABORT, 'kiln: review refused: review_state must be pending, accepted, edited or discarded')
                WHERE NEW.review_state IS NULL OR NEW.review_state NOT IN ('pending','accepted','edited','discarded');
            SELECT RAISE(ABORT, 'kiln: review refused: only a completed run can be reviewed')
                WHERE NEW.review_state IN \(final) AND (OLD.status <> 'completed' OR NEW.status <> 'completed');
            SELECT RAISE(ABORT, 'kiln: review refused: reviewed_by (who decided) is required')
                WHERE NEW.review_state IN \(final) AND (NEW.reviewed_by IS NULL OR NEW.reviewed_by = '');
            SELECT RAISE(ABORT, 'kiln: review refused: an edited review needs reviewed_output')
                WHERE NEW.review_state = 'edited' AND NEW.reviewed_output IS NULL;
            SELECT RAISE(ABORT, 'kiln: review refused: reviewed_output is only for an edited review')
                WHERE NEW.review_state IN ('accepted','discarded') AND NEW.reviewed_output IS NOT NULL;
        END;
        """
    }
}
