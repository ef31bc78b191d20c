import Foundation

/// The Batch API lane (`policy.lane = "batch"`): runs gathered per model into one JSONL file
/// of `/v1/responses` requests, uploaded, carried by one provider batch (24 h, half price),
/// and their results mapped back to each run.
///
/// Kiln's own record of a batch is a row of `kiln_batches` (``KilnBatch``); its runs point at
/// it (`ai_runs.batch_id`) and are held by it: their lease owner is the batch's
/// ``KilnBatch/leaseName`` with a lease that never expires, so no submitter or poller claims
/// them while the batch carries them. Every step that talks to the provider is recorded
/// before or after the call so that a process killed at any moment leaves a state the next
/// process resumes without a second batch (``BatchState``).
public struct KilnBatch: Sendable, Hashable {
    public var id: String
    public var model: String
    public var state: BatchState
    /// Requests and bytes (JSONL lines) gathered so far.
    public var requestCount: Int
    public var bytes: Int
    public var openedAt: Date
    /// When the batch's next step is due: its sealing while gathering, its next poll once submitted.
    public var dueAt: Date
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var inputFileID: String?
    public var providerBatchID: String?
    public var providerStatus: String?
    public var outputFileID: String?
    public var errorFileID: String?
    /// When Kiln asked the provider to cancel it (every run left in it was cancelled).
    public var cancelSentAt: Date?
    /// Provider calls of the current step that failed in a row.
    public var tries: Int
    /// Why it ended without carrying its runs, when it did (its runs went back to the queue).
    public var error: String?
    public var updatedAt: Date
    public var endedAt: Date?

    public init(id: String, model: String, openedAt: Date, dueAt: Date) {
        self.id = id
        self.model = model
        self.state = .gathering
        self.requestCount = 0
        self.bytes = 0
        self.openedAt = openedAt
        self.dueAt = dueAt
        self.tries = 0
        self.updatedAt = openedAt
    }

    /// The lease owner of the runs this batch holds.
    public var leaseName: String { Self.leaseName(id) }
    public static func leaseName(_ id: String) -> String { "batch:" + id }
    /// The lease of a run a batch holds: it never runs out; the batch lets go of the run.
    public static let heldUntil = DocumentTree.heldUntil

    /// A new id: `kbatch_` and a time-sortable unique id, like a run's.
    public static func makeID(at now: Date) -> String { "kbatch_" + RunID.make(at: now).rawValue.dropFirst(4) }

    /// The metadata key the provider batch carries, by which a batch created by a process that
    /// died before it stored the id is found again.
    public static let metadataKey = "kiln_batch_id"
}

/// Where a batch is in its life. Each state names what was done and recorded; the step after
/// it is the next process's to take when the lease runs out.
public enum BatchState: String, Sendable, Hashable, CaseIterable {
    /// Open: runs of its model join it until `dueAt` or until it is full.
    case gathering
    /// Closed to new runs; its file is built and uploaded next (cancelled runs are let go first).
    case sealed
    /// Its file is uploaded (`input_file_id`); the batch is created next.
    case uploaded
    /// The create is about to leave or has left: a process that finds it here looks for the
    /// provider batch by its metadata before it creates one.
    case creating
    /// The provider has it (`provider_batch_id`); polled every `batch.poll_seconds`.
    case submitted
    /// The provider batch ended; its results are being mapped back to its runs.
    case collecting
    /// Nothing left to do.
    case done

}

/// The `batch` section of the configuration.
public struct BatchSettings: Sendable, Hashable {
    /// How long a batch gathers runs before it is sent (the first run's longest wait to be sent).
    public var gatherSeconds = 300.0
    /// Most requests of one file (the provider's limit is 50,000).
    public var maxRequests = 50_000
    /// Most bytes of one file (the provider's limit is 200 MB, read as 200,000,000 bytes).
    public var maxBytes = 200_000_000
    /// How often a submitted batch is polled (a `batch.*` webhook makes it due at once).
    public var pollSeconds = 60.0
    /// How long a process holds a batch for one step before another may take it over.
    public var leaseSeconds = 300.0
    /// The wait after a failed provider call of a step (doubling, up to `pollSeconds` × 10).
    public var retrySeconds = 30.0
    /// Failed uploads in a row before the batch gives its runs back to the queue (they are then
    /// sent at standard). A create that may have made the batch and a results download are
    /// retried without end: giving their runs back could bill them twice.
    public var maxTries = 5
    /// Delete the batch's input, output and error files at the provider once its results are in.
    public var deleteFiles = true

    public init() {}

    /// The window the provider gives a batch: `24h` is the only one it accepts.
    public static let completionWindowSeconds = 86_400.0

    func validate() throws(KilnError) {
        func check(_ ok: Bool, _ key: String, _ rule: String, _ value: Any) throws(KilnError) {
            if !ok { throw KilnError(.invalidConfiguration, "\(key) \(rule), got \(value)") }
        }
        try check(gatherSeconds >= 0, "batch.gather_seconds", "must be ≥ 0", gatherSeconds)
        try check((1...50_000).contains(maxRequests), "batch.max_requests", "must be in 1…50000", maxRequests)
        try check((1...200_000_000).contains(maxBytes), "batch.max_bytes", "must be in 1…200000000", maxBytes)
        try check(pollSeconds > 0, "batch.poll_seconds", "must be > 0", pollSeconds)
        try check(leaseSeconds > 0, "batch.lease_seconds", "must be > 0", leaseSeconds)
        try check(retrySeconds > 0, "batch.retry_seconds", "must be > 0", retrySeconds)
        try check(maxTries >= 1, "batch.max_tries", "must be ≥ 1", maxTries)
    }

    /// The wait before try `tries` + 1 of a step.
    public func backoff(tries: Int) -> Double {
        min(pollSeconds * 10, retrySeconds * pow(2, Double(max(0, tries - 1))))
    }
}

/// A provider batch as the Batch API describes it (the `Batch` object), in the fields Kiln reads.
public struct ProviderBatch: Sendable, Hashable {
    public var id: String
    public var status: String
    public var inputFileID: String
    public var outputFileID: String?
    public var errorFileID: String?
    public var createdAt: Date
    public var metadata: [String: String]
    public var total: Int?
    public var completed: Int?
    public var failed: Int?
    /// `errors.data`: why a batch failed validation (`code: message (line n)`).
    public var errors: [String]

    public init(
        id: String, status: String, inputFileID: String, outputFileID: String? = nil, errorFileID: String? = nil, createdAt: Date,
        metadata: [String: String] = [:], total: Int? = nil, completed: Int? = nil, failed: Int? = nil, errors: [String] = []
    ) {
        self.id = id
        self.status = status
        self.inputFileID = inputFileID
        self.outputFileID = outputFileID
        self.errorFileID = errorFileID
        self.createdAt = createdAt
        self.metadata = metadata
        self.total = total
        self.completed = completed
        self.failed = failed
        self.errors = errors
    }

    /// `completed`, `failed`, `expired`, `cancelled`: nothing more will happen to it.
    public var isTerminal: Bool { ["completed", "failed", "expired", "cancelled"].contains(status) }
}

/// One line of a batch's output or error file, for the run named by its `custom_id`.
public enum BatchResult: Sendable, Hashable {
    /// The request ran: the Response object the provider made (any status).
    case response(ProviderResponse)
    /// The request was refused with an HTTP error (`response.status_code` ≥ 400), or failed
    /// without one (`error`: `batch_expired`, `batch_cancelled`, …).
    case error(status: Int?, code: String, message: String)

    /// A request the batch did not get to (expired or cancelled before it ran): not billed.
    public var isUnfinished: Bool {
        if case .error(_, let code, _) = self { return code == "batch_expired" || code == "batch_cancelled" }
        return false
    }
}

/// The Files and Batch endpoints, as the batch lane uses them.
public protocol BatchClient: Sendable {
    /// The JSONL line of one request (`custom_id`, `method`, `url`, `body`), newline included.
    func batchLine(customID: String, request: ProviderRequest) throws(ProviderError) -> Data
    /// Uploads `content` with purpose `batch`; the file's id.
    func uploadBatchFile(_ content: Data, filename: String) async throws(ProviderError) -> String
    /// Creates a `/v1/responses` batch over `inputFileID`, window `24h`.
    func createBatch(inputFileID: String, metadata: [String: String]) async throws(ProviderError) -> ProviderBatch
    func retrieveBatch(_ id: String) async throws(ProviderError) -> ProviderBatch
    func cancelBatch(_ id: String) async throws(ProviderError) -> ProviderBatch
    /// The batch whose metadata has `key = value`, looking back no earlier than `since`.
    func findBatch(metadata key: String, value: String, since: Date) async throws(ProviderError) -> ProviderBatch?
    /// The lines of an output or error file, by `custom_id`.
    func batchResults(fileID: String) async throws(ProviderError) -> [String: BatchResult]
    func deleteFile(_ id: String) async throws(ProviderError)
}

/// Where batches live: `kiln_batches`, and the runs they hold.
public protocol BatchStore: Sendable {
    /// Moves `runs` (claimed for submission by `owner`) into the gathering batch of `model`,
    /// opening one when there is none with room for them (`settings`); each run gets its
    /// `batched` event. Returns the ids of the runs moved (a run whose guard failed is not).
    func join(_ runs: [BatchEntry], model: String, owner: String, settings: BatchSettings, now: Date) async throws -> [RunID]

    /// Up to `limit` batches due at `now` whose lease is free, leased to `owner` until
    /// `leaseUntil`; a gathering batch is sealed as it is claimed.
    func claimBatches(owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [KilnBatch]

    /// Writes `batch` (guarded: still leased to `owner`, the lease not run out at
    /// `batch.updatedAt`) with `runs`, the guarded updates of its runs, in one transaction;
    /// false when the guard failed (nothing written).
    func saveBatch(_ batch: KilnBatch, owner: String, runs: [RunUpdate]) async throws -> Bool

    /// The runs `batch` holds (leased to its ``KilnBatch/leaseName``), in id order; with their
    /// `input` only when `inputs` (building the file needs them; mapping results back does not).
    func runs(inBatch id: String, inputs: Bool) async throws -> [Run]

    /// How many runs `batch` holds, and how many of those the application asked to cancel:
    /// counted in the database, for the checks of every poll.
    func heldRuns(inBatch id: String) async throws -> (held: Int, cancelRequested: Int)

    /// Makes the batch the provider knows as `providerBatchID` due now (a `batch.*` webhook);
    /// false when no working batch has it.
    func makeBatchDue(providerBatchID: String, now: Date) async throws -> Bool

    /// The batch with Kiln's `id`.
    func batch(_ id: String) async throws -> KilnBatch?
}

/// A run about to join a batch: its JSONL line's size and the prompt version it was built with.
public struct BatchEntry: Sendable, Hashable {
    public var run: Run
    public var lineBytes: Int
    public var promptVersion: String

    public init(run: Run, lineBytes: Int, promptVersion: String) {
        self.run = run
        self.lineBytes = lineBytes
        self.promptVersion = promptVersion
    }
}

/// Which batch each run joins while a model's runs are gathered: the open batch while it has
/// room under `batch.max_requests` and `batch.max_bytes`, else a new one (the full one is then
/// due at once). Pure: the stores read the open batch, ask, and write what it says.
public struct BatchGathering: Sendable {
    public private(set) var open: KilnBatch?
    public let model: String
    public let settings: BatchSettings
    public let now: Date

    public init(open: KilnBatch?, model: String, settings: BatchSettings, now: Date) {
        self.open = open
        self.model = model
        self.settings = settings
        self.now = now
    }

    /// Where a run whose line has `lineBytes` goes.
    public struct Placement: Sendable, Hashable {
        /// The batch it joins.
        public var batch: KilnBatch
        /// True when that batch is new (to be inserted first).
        public var opened: Bool
        /// A batch that had no room left: to be made due now.
        public var full: KilnBatch?
    }

    public mutating func place(lineBytes: Int) -> Placement {
        var full: KilnBatch?
        if let batch = open, batch.requestCount + 1 > settings.maxRequests || batch.bytes + lineBytes > settings.maxBytes {
            full = batch
            open = nil
        }
        if let batch = open { return Placement(batch: batch, opened: false, full: full) }
        let batch = KilnBatch(
            id: KilnBatch.makeID(at: now), model: model, openedAt: now, dueAt: now.addingTimeInterval(settings.gatherSeconds))
        open = batch
        return Placement(batch: batch, opened: true, full: full)
    }

    /// The run placed last was written: it counts against the open batch's room.
    public mutating func joined(lineBytes: Int) {
        open?.requestCount += 1
        open?.bytes += lineBytes
    }
}
