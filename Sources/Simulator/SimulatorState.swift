import Foundation
import Synchronization

/// Everything the simulator holds, behind one lock: responses, counters, the random source.
final class SimulatorState: Sendable {
    struct Counters: Sendable {
        var creates = 0
        var createsByRun: [String: Int] = [:]
        var retrieves = 0
        var retrievesByResponse: [String: Int] = [:]
        var cancels = 0
        var deletes = 0
        var faults: [String: Int] = [:]
        var recordedBodies: [Data] = []
        var fileUploads = 0
        var batches = 0
        /// Batches created per Kiln batch (`metadata.kiln_batch_id`): more than 1 is a duplicate.
        var batchesByKilnBatch: [String: Int] = [:]
    }

    struct Inner: Sendable {
        var responses: [String: SimulatedResponse] = [:]
        var responsesByRun: [String: [String]] = [:]
        var counters = Counters()
        var random: SeededRandom
        var sequence: UInt64 = 0
        /// The prompt cache: per `prompt_cache_key` and prefix, when it was last used and how many
        /// requests it took in the current minute (simulated time).
        var promptCache: [String: PromptCacheEntry] = [:]
        var injected: [SimulatorFault] = []
        var files: [String: SimulatedFile] = [:]
        var batches: [String: SimulatedBatch] = [:]
        var batchOrder: [String] = []
        var configuration: SimulatorConfiguration
    }

    let inner: Mutex<Inner>

    init(configuration: SimulatorConfiguration) {
        inner = Mutex(Inner(random: SeededRandom(seed: configuration.seed), configuration: configuration))
    }

    var configuration: SimulatorConfiguration {
        inner.withLock { $0.configuration }
    }

    func update(_ change: (inout SimulatorConfiguration) -> Void) {
        inner.withLock { change(&$0.configuration) }
    }

    /// The next calls get these faults, in order, before any random ones.
    func inject(_ faults: [SimulatorFault]) {
        inner.withLock { $0.injected += faults }
    }

    /// The fault this call gets, if any.
    func drawFault() -> SimulatorFault? {
        inner.withLock { state -> SimulatorFault? in
            if !state.injected.isEmpty {
                let fault = state.injected.removeFirst()
                state.counters.faults[fault.rawValue, default: 0] += 1
                return fault
            }
            let configuration = state.configuration
            guard configuration.faultRate > 0, !configuration.faultMix.isEmpty,
                state.random.unit() < configuration.faultRate
            else { return nil }
            let fault = configuration.faultMix[Int(state.random.next() % UInt64(configuration.faultMix.count))]
            state.counters.faults[fault.rawValue, default: 0] += 1
            return fault
        }
    }

    /// Whether this flex create is refused for capacity (``SimulatorConfiguration/flexBusyShare``).
    func drawFlexBusy() -> Bool {
        inner.withLock { state in
            state.configuration.flexBusyShare > 0 && state.random.unit() < state.configuration.flexBusyShare
        }
    }

    struct CreateRequest {
        let model: String
        let instructions: String?
        let input: String
        let metadata: [String: String]
        let maxOutputTokens: Int?
        let background: Bool
        let completionWindow: String?
        /// The `json_schema` format of `text.format`, as JSON, when one was sent.
        let textFormat: Data?
        let body: Data
        /// The `service_tier` asked for, when one was sent.
        var serviceTier: String? = nil
        var promptCacheKey: String? = nil
    }

    /// Plans and stores a new response. `endsAtOnce` skips its queue and generation (a `stuck`
    /// outcome completes instead), for a create whose webhook must beat its answer.
    func create(_ request: CreateRequest, now: Double, endsAtOnce: Bool = false) -> SimulatedResponse {
        inner.withLock { state -> SimulatedResponse in
            state.sequence += 1
            let c = state.configuration
            let runID = request.metadata["kiln_run_id"]
            // Per-run randomness, so a run's plan does not depend on the order of arrival.
            var random =
                runID.map { SeededRandom(seed: c.seed ^ SeededRandom.hash($0 + "#" + (request.metadata["kiln_attempt"] ?? ""))) }
                ?? SeededRandom(seed: c.seed &+ state.sequence &* 7919)
            let directives = Directives(request.input)
            var queueWait = c.queueWaitMin + random.unit() * max(0, c.queueWaitMax - c.queueWaitMin)
            if let window = request.completionWindow, window != "soonest" { queueWait = random.unit() * c.windowQueueWaitMax }
            if !request.background { queueWait = 0 }
            queueWait = directives.queue ?? queueWait
            var generation = directives.generation ?? random.logNormal(median: c.generationMedian, sigma: c.generationSigma)
            let draw = random.unit()
            var outcome: SimulatedResponse.Outcome =
                draw < c.stuckShare
                ? .stuck
                : draw < c.stuckShare + c.failedShare
                    ? .failed
                    : draw < c.stuckShare + c.failedShare + c.incompleteShare ? .incomplete : .completed
            if let forced = directives.outcome { outcome = forced }
            if directives.quotaFailOnce {
                let earlier = runID.map { state.responsesByRun[$0]?.count ?? 0 } ?? 0
                outcome = earlier == 0 ? .failedForQuota : .completed
            }
            if directives.failOnce {
                let earlier = runID.map { state.responsesByRun[$0]?.count ?? 0 } ?? 0
                outcome = earlier == 0 ? .failed : .completed
            }
            if !request.background, outcome == .stuck { outcome = .completed }
            if endsAtOnce {
                (queueWait, generation) = (0, 0)
                if outcome == .stuck { outcome = .completed }
            }
            let id = String(format: "resp_%016llx%08llx", state.sequence, random.next() & 0xffff_ffff)
            let startsAt = now + queueWait / c.timeScale
            let response = SimulatedResponse(
                id: id, model: request.model, instructions: request.instructions, metadata: request.metadata,
                maxOutputTokens: request.maxOutputTokens, background: request.background, createdAt: now,
                startsAt: startsAt, endsAt: startsAt + generation / c.timeScale, outcome: outcome,
                text: SimulatedResponse.answer(to: request, directives: directives), textFormat: request.textFormat,
                inputTokens: SimulatedResponse.tokens((request.instructions ?? "") + request.input),
                serviceTier: SimulatedResponse.servedTier(request.serviceTier),
                cachedTokens: Self.cachedTokens(request, now: now, state: &state))
            state.responses[id] = response
            state.counters.creates += 1
            if let runID {
                state.counters.createsByRun[runID, default: 0] += 1
                state.responsesByRun[runID, default: []].append(id)
            }
            if c.recordCreateBodies {
                state.counters.recordedBodies.append(request.body)
                if state.counters.recordedBodies.count > 2_000 { state.counters.recordedBodies.removeFirst() }
            }
            return response
        }
    }

    enum Lookup {
        case found(SimulatedResponse)
        case notFound
    }

    /// The response as a caller may see it now (404 once deleted or past retention).
    func lookup(_ id: String, now: Double, countRetrieve: Bool = false) -> Lookup {
        inner.withLock { state -> Lookup in
            if countRetrieve {
                state.counters.retrieves += 1
                state.counters.retrievesByResponse[id, default: 0] += 1
            }
            guard let response = state.responses[id], !response.deleted else { return .notFound }
            let retention = state.configuration.retention / state.configuration.timeScale
            if retention > 0, let finished = response.finishedAt(now), now > finished + retention {
                return .notFound
            }
            return .found(response)
        }
    }

    /// The response as it stands, deleted or past retention alike: for observers, not callers.
    func observedResponse(_ id: String) -> SimulatedResponse? {
        inner.withLock { $0.responses[id] }
    }

    enum CancelResult {
        case cancelled(SimulatedResponse)
        case notBackground
        case notFound
    }

    /// Cancels a running background response; a finished one is returned unchanged.
    func cancel(_ id: String, now: Double) -> CancelResult {
        guard case .found(let response) = lookup(id, now: now) else { return .notFound }
        guard response.background else { return .notBackground }
        return inner.withLock { state -> CancelResult in
            state.counters.cancels += 1
            guard var current = state.responses[id] else { return .notFound }
            let status = current.status(at: now)
            if status == .queued || status == .inProgress {
                current.cancelledAt = now
                state.responses[id] = current
            }
            return .cancelled(current)
        }
    }

    func delete(_ id: String, now: Double) -> Bool {
        guard case .found = lookup(id, now: now) else { return false }
        return inner.withLock { state in
            state.counters.deletes += 1
            state.responses[id]?.deleted = true
            return true
        }
    }

    var counters: Counters { inner.withLock { $0.counters } }

    /// Every response created for a run (by its `kiln_run_id` metadata), oldest first.
    func responses(ofRun runID: String) -> [SimulatedResponse] {
        inner.withLock { state in (state.responsesByRun[runID] ?? []).compactMap { state.responses[$0] } }
    }

    var responseCount: Int { inner.withLock { $0.responses.count } }

    /// Every response with the retrieves it got, in order of creation.
    func everyResponse() -> [(response: SimulatedResponse, retrieves: Int)] {
        inner.withLock { state in
            state.responses.values.sorted { $0.createdAt < $1.createdAt }
                .map { ($0, state.counters.retrievesByResponse[$0.id] ?? 0) }
        }
    }
}

/// Test directives a document may carry, e.g. `[sim:fail]`, `[sim:generation=30]`,
/// `[sim:refuse]`, `[sim:malformed_json]`, `[sim:schema_mismatch]`, `[sim:fail_once]` (the
/// run's first response fails, later ones complete: a fault that goes away).
struct Directives {
    var outcome: SimulatedResponse.Outcome?
    var generation: Double?
    var queue: Double?
    /// For a `json_schema` request: answer with text that is not JSON, or JSON that breaks the schema.
    var malformedJSON = false
    var schemaMismatch = false
    var failOnce = false
    /// The run's first response fails for quota (as background users report it), later ones complete.
    var quotaFailOnce = false

    init(_ input: String) {
        guard input.contains("[sim:") else { return }
        if input.contains("[sim:fail]") { outcome = .failed }
        if input.contains("[sim:incomplete]") { outcome = .incomplete }
        if input.contains("[sim:refuse]") { outcome = .refused }
        if input.contains("[sim:stuck]") { outcome = .stuck }
        malformedJSON = input.contains("[sim:malformed_json]")
        schemaMismatch = input.contains("[sim:schema_mismatch]")
        failOnce = input.contains("[sim:fail_once]")
        quotaFailOnce = input.contains("[sim:quota_fail_once]")
        generation = Self.number(after: "[sim:generation=", in: input)
        queue = Self.number(after: "[sim:queue=", in: input)
    }

    private static func number(after marker: String, in text: String) -> Double? {
        guard let start = text.range(of: marker)?.upperBound,
            let end = text[start...].firstIndex(of: "]")
        else { return nil }
        return Double(text[start..<end])
    }
}
