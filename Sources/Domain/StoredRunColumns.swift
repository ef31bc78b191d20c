import Foundation

/// A row of `ai_runs` as a store reads it, before it is a ``Run``: every store fills this
/// from its own column types, and the checks (a known status, readable JSON) live here once.
public struct StoredRunColumns: Sendable {
    public var id = ""
    public var tenantID = ""
    public var userID: String?
    public var feature = ""
    public var subjectType: String?
    public var subjectID: String?
    public var idempotencyKey: String?
    public var input = "{}"
    /// The input already parsed (a store that parses it in place, without a copy of its text).
    public var parsedInput: JSONValue?
    public var policy = "{}"
    public var status = "queued"
    public var attempt = 0
    public var responseID: String?
    public var providerStatus: String?
    public var output: String?
    public var error: String?
    public var usage: String?
    public var costMicros: Int64?
    public var orphanCostMicros: Int64 = 0
    public var pollCount = 0
    public var nextPollAt: Date?
    public var availableAt: Date?
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var cancelRequestedAt: Date?
    public var reviewState: String?
    public var reviewedBy: String?
    public var reviewedAt: Date?
    public var reviewedOutput: String?
    public var displayedAt: Date?
    public var displayedBy: String?
    public var promptVersion: String?
    public var sendStartedAt: Date?
    public var createdAt: Date?
    public var submittedAt: Date?
    public var providerStartedAt: Date?
    public var providerCompletedAt: Date?
    public var finalizedAt: Date?
    public var updatedAt: Date?
    public var parentRunID: String?
    public var chunkIndex: Int?
    public var level: Int?
    public var charStart: Int?
    public var charEnd: Int?
    public var erasedAt: Date?
    public var providerDeletedAt: Date?
    public var waitReason: String?
    public var reservedCostMicros: Int64?
    public var batchID: String?

    public init() {}

    public func run() throws(KilnError) -> Run {
        func json<T: Decodable>(_ type: T.Type, _ text: String?, _ column: String) throws(KilnError) -> T? {
            guard let text else { return nil }
            do {
                return try JSONDecoder().decode(T.self, from: Data(text.utf8))
            } catch {
                throw KilnError(.database, "run \(id.prefix(64)) has an unreadable \(column) JSON")
            }
        }
        guard let runStatus = RunStatus(rawValue: status) else {
            throw KilnError(.database, "run \(id.prefix(64)) has an unknown status \"\(status.prefix(40))\"")
        }
        let created = createdAt ?? Date(timeIntervalSince1970: 0)
        var decodedInput = JSONValue.null
        if let parsedInput {
            decodedInput = parsedInput
        } else if let parsed = try json(JSONValue.self, input, "input") {
            decodedInput = parsed
        }
        var run = Run(
            id: RunID(id), tenantID: TenantID(tenantID), userID: userID, feature: feature,
            idempotencyKey: idempotencyKey, input: decodedInput,
            policy: try json(JSONValue.self, policy, "policy") ?? .object([:]), createdAt: created)
        if let subjectType, let subjectID { run.subject = Subject(type: subjectType, id: subjectID) }
        run.status = runStatus
        run.attempt = attempt
        run.responseID = responseID.map(ResponseID.init)
        run.providerStatus = providerStatus
        run.output = try json(RunOutput.self, output, "output")
        run.error = try json(RunFailure.self, error, "error")
        run.usage = try json(RunUsage.self, usage, "usage")
        run.costMicros = costMicros
        run.orphanCostMicros = orphanCostMicros
        run.pollCount = pollCount
        run.nextPollAt = nextPollAt
        run.availableAt = availableAt ?? created
        run.leaseOwner = leaseOwner
        run.leaseExpiresAt = leaseExpiresAt
        run.cancelRequestedAt = cancelRequestedAt
        run.reviewState = reviewState
        run.reviewedBy = reviewedBy
        run.reviewedAt = reviewedAt
        run.reviewedOutput = try json(JSONValue.self, reviewedOutput, "reviewed_output")
        run.displayedAt = displayedAt
        run.displayedBy = displayedBy
        run.promptVersion = promptVersion
        run.sendStartedAt = sendStartedAt
        run.submittedAt = submittedAt
        run.providerStartedAt = providerStartedAt
        run.providerCompletedAt = providerCompletedAt
        run.finalizedAt = finalizedAt
        run.updatedAt = updatedAt ?? created
        run.parentRunID = parentRunID.map(RunID.init)
        run.chunkIndex = chunkIndex
        run.level = level
        run.charStart = charStart
        run.charEnd = charEnd
        run.erasedAt = erasedAt
        run.providerDeletedAt = providerDeletedAt
        run.waitReason = waitReason
        run.reservedCostMicros = reservedCostMicros
        run.batchID = batchID
        return run
    }
}
