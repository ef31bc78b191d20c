import KilnDomain
import Testing

@Suite("The life of a run")
struct RunStatusTests {
    /// Every (from, to) pair the design allows; everything else must be refused.
    static let allowed: Set<String> = [
        "queued→submitting", "queued→cancelled", "queued→timed_out", "queued→failed",
        "submitting→in_progress", "submitting→queued", "submitting→failed", "submitting→cancelled",
        "submitting→timed_out",
        "in_progress→completed", "in_progress→failed", "in_progress→incomplete", "in_progress→cancelled",
        "in_progress→timed_out",
        "queued→queued", "submitting→submitting", "in_progress→in_progress",
        // An operator's retry of a long document's failed children: the parent resumes and its
        // children that ended without a result are queued again.
        "failed→in_progress", "failed→queued", "timed_out→queued", "incomplete→queued", "cancelled→queued",
        // The batch lane: a batch that ends without running a request gives its run back to the queue.
        "in_progress→queued",
    ]

    static let pairs: [(RunStatus, RunStatus)] = RunStatus.allCases.flatMap { from in RunStatus.allCases.map { (from, $0) } }

    @Test("the transition table allows exactly the designed moves", arguments: pairs)
    func transitionTable(from: RunStatus, to: RunStatus) {
        let key = "\(from.rawValue)→\(to.rawValue)"
        #expect(from.canMove(to: to) == Self.allowed.contains(key), "\(key)")
    }

    /// Only an operator's retry (of a failed run, or a long document's failed children) leaves a
    /// terminal status; no step of the worker does, and a completed run never moves.
    @Test func terminalStatusesAreFinalButForAnOperatorsRetry() {
        let terminal = RunStatus.allCases.filter(\.isTerminal).map(\.rawValue).sorted()
        #expect(terminal == ["cancelled", "completed", "failed", "incomplete", "timed_out"])
        let operatorSteps: Set<RunTransition.Step> = [.resumeTree, .retryChild, .operatorRetry]
        for (step, moves) in LegalMoves.table where !operatorSteps.contains(step) {
            #expect(moves.allSatisfy { !$0.from.isTerminal }, "\(step) leaves a terminal status")
        }
        #expect(RunStatus.allCases.allSatisfy { !RunStatus.completed.canMove(to: $0) })
    }

    @Test func unknownStatusNamesTheValue() {
        #expect(throws: KilnError.self) { try RunStatus(parsing: "done") }
        do {
            _ = try RunStatus(parsing: "done")
        } catch {
            #expect(error.message.contains("\"done\""))
        }
    }
}
