import Foundation

/// A person's decision on a completed run's output: the `review_state` it leaves.
public enum ReviewDecision: Sendable, Hashable {
    case accept
    /// The person changed the output; the edit is kept beside the model's original.
    case edit(EditedOutput)
    case discard

    /// Edited text, or edited JSON for a feature with an output schema.
    public enum EditedOutput: Sendable, Hashable {
        case text(String)
        case json(JSONValue)

        /// The `reviewed_output` column: `{"text": …}` or `{"json": …}`.
        public var column: JSONValue {
            switch self {
            case .text(let text): .object(["text": .string(text)])
            case .json(let value): .object(["json": value])
            }
        }
    }

    /// The `review_state` this decision writes.
    public var reviewState: String {
        switch self {
        case .accept: "accepted"
        case .edit: "edited"
        case .discard: "discarded"
        }
    }

    /// The `reviewed_output` this decision writes.
    public var reviewedOutput: JSONValue? {
        if case .edit(let edited) = self { return edited.column }
        return nil
    }

    /// Review states that end the review: a second decision is refused.
    public static let finalStates: Set<String> = ["accepted", "edited", "discarded"]
}

/// What the application records on a completed run after Kiln finished it; the table's
/// triggers check it and write its `ai_run_events` row, whoever writes it.
public enum RunMark: Sendable, Hashable {
    case review(ReviewDecision, by: String, at: Date)
    case displayed(by: String, at: Date)

    /// `review` or `display`, for messages.
    public var kind: String {
        switch self {
        case .review: "review"
        case .displayed: "display"
        }
    }
}

extension RunMark {
    /// Why the table refuses this mark on `run` (the rules its triggers enforce), or nil.
    public func refusal(on run: Run) -> String? {
        switch self {
        case .review(let decision, let by, _):
            if let state = run.reviewState, ReviewDecision.finalStates.contains(state) {
                return "review refused: the run already has a final review decision"
            }
            if run.status != .completed { return "review refused: only a completed run can be reviewed" }
            if by.isEmpty { return "review refused: reviewed_by (who decided) is required" }
            if case .edit = decision, decision.reviewedOutput == nil { return "review refused: an edited review needs reviewed_output" }
            return nil
        case .displayed:
            return run.status == .completed ? nil : "display refused: only a completed run can be displayed"
        }
    }

    /// The `ai_run_events` row the table writes for this mark on `run`.
    public func event(on run: Run) -> RunEvent {
        switch self {
        case .review(let decision, let by, let at):
            RunEvent(
                runID: run.id, fromStatus: run.status, toStatus: run.status, at: at, actor: by, kind: "reviewed",
                details: .object([
                    "review_state": .string(decision.reviewState), "previous": run.reviewState.map(JSONValue.string) ?? .null,
                    "edited": .bool(decision.reviewedOutput != nil),
                ]))
        case .displayed(let by, let at):
            RunEvent(runID: run.id, fromStatus: run.status, toStatus: run.status, at: at, actor: by, kind: "displayed")
        }
    }
}
