import Foundation

/// One row of `ai_runs`: a generation the application asked for, and everything Kiln did.
///
/// The application owns the request half (tenant, feature, input, policy, the cancel request
/// and the review state after completion); Kiln owns the execution half. As JSON, a run uses
/// the column names as keys (see ``CodingKeys``), with the JSON columns as nested objects.
public struct Run: Sendable, Hashable {
    // The application's half.
    public var id: RunID
    public var tenantID: TenantID
    public var userID: String?
    public var feature: String
    public var subject: Subject?
    public var idempotencyKey: String?
    public var input: JSONValue
    /// Policy overrides as stored; resolve with ``RunPolicy/applying(_:)`` on the defaults.
    public var policy: JSONValue
    public var cancelRequestedAt: Date?
    /// `pending` when the policy requires review of a completed run; then the app's
    /// decision: `accepted`, `edited` or `discarded` (``ReviewDecision``).
    public var reviewState: String?
    /// Who made the review decision, when, and the edited output of an `edited` one
    /// (`{"text": …}` or `{"json": …}`, kept beside the model's original `output`).
    public var reviewedBy: String?
    public var reviewedAt: Date?
    public var reviewedOutput: JSONValue?
    /// When the result was last shown to a user, and to whom.
    public var displayedAt: Date?
    public var displayedBy: String?
    public var createdAt: Date

    // A long document's tree (``DocumentTree``): set by Kiln on the runs it creates.
    /// The tree parent this run is a piece of (a map or reduce child); nil for other runs.
    public var parentRunID: RunID?
    /// The child's place in its level, in document order (0-based).
    public var chunkIndex: Int?
    /// A child's level (0: map, 1…: reduce); on a tree parent, the level it is working.
    public var level: Int?
    /// The range of the parent's `input.text` a child covers: `[char_start, char_end)` in
    /// Unicode scalars (what `length`/`substr` count in SQL).
    public var charStart: Int?
    public var charEnd: Int?

    // Kiln's half.
    public var status: RunStatus
    public var attempt: Int
    public var responseID: ResponseID?
    public var providerStatus: String?
    public var output: RunOutput?
    public var error: RunFailure?
    public var usage: RunUsage?
    public var costMicros: Int64?
    /// What responses the run did not use cost (duplicates a crash or an ambiguous send made,
    /// found through webhooks): the run's whole cost is `costMicros + orphanCostMicros`.
    public var orphanCostMicros: Int64
    public var pollCount: Int
    public var nextPollAt: Date?
    public var availableAt: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var promptVersion: String?
    /// The send mark: set, with `attempt`, before a create request leaves. A run found in
    /// `submitting` with this set and no `response_id` may have a response at the provider.
    public var sendStartedAt: Date?
    public var submittedAt: Date?
    /// When a poll first found the response `in_progress` (left the provider's queue).
    public var providerStartedAt: Date?
    public var providerCompletedAt: Date?
    public var finalizedAt: Date?
    public var updatedAt: Date
    /// When the run's input and output were erased (a tombstone keeps ids, times, usage, cost).
    public var erasedAt: Date?
    /// When Kiln deleted the run's response at the provider.
    public var providerDeletedAt: Date?
    /// Why a queued run waits: the limit that held it last (``WaitReason``); cleared when claimed.
    public var waitReason: String?
    /// The most the run's current attempt can cost, reserved against its tenant's and feature's
    /// cost caps while it is in flight (set when claimed for submission).
    public var reservedCostMicros: Int64?
    /// The batch (``KilnBatch``) that carries the run, or last did: a run of the `batch` lane
    /// that a batch let go of without a result is sent at standard.
    public var batchID: String?

    public init(
        id: RunID, tenantID: TenantID, userID: String? = nil, feature: String, subject: Subject? = nil,
        idempotencyKey: String? = nil, input: JSONValue, policy: JSONValue = .object([:]), createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.userID = userID
        self.feature = feature
        self.subject = subject
        self.idempotencyKey = idempotencyKey
        self.input = input
        self.policy = policy
        self.cancelRequestedAt = nil
        self.reviewState = nil
        self.reviewedBy = nil
        self.reviewedAt = nil
        self.reviewedOutput = nil
        self.displayedAt = nil
        self.displayedBy = nil
        self.createdAt = createdAt
        self.parentRunID = nil
        self.chunkIndex = nil
        self.level = nil
        self.charStart = nil
        self.charEnd = nil
        self.status = .queued
        self.attempt = 0
        self.responseID = nil
        self.providerStatus = nil
        self.output = nil
        self.error = nil
        self.usage = nil
        self.costMicros = nil
        self.orphanCostMicros = 0
        self.pollCount = 0
        self.nextPollAt = nil
        self.availableAt = createdAt
        self.leaseOwner = nil
        self.leaseExpiresAt = nil
        self.promptVersion = nil
        self.sendStartedAt = nil
        self.submittedAt = nil
        self.providerStartedAt = nil
        self.providerCompletedAt = nil
        self.finalizedAt = nil
        self.updatedAt = createdAt
    }

    /// A long document's parent: it never calls the provider; its children do.
    public var isTreeParent: Bool { parentRunID == nil && level != nil }

    /// When the run's deadline passes, given its resolved policy.
    public func deadline(_ policy: RunPolicy) -> Date {
        createdAt.addingTimeInterval(Double(policy.deadlineSeconds))
    }
}
