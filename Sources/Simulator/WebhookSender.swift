import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Sends the webhook of every background response when it ends, as OpenAI does, on timers of
/// its own: nobody has to poll for a response to end and be announced.
///
/// A response's end is planned when it is created (its `endsAt` already runs `timeScale` times
/// faster than provider time), so a timer waits for it; a cancel through the API ends it
/// sooner. Each message is one job in the task group of ``run()``, so deliveries run side by
/// side and never hold an API route, except a create chosen by ``WebhookSettings/earlyRate``,
/// which waits for its own event on purpose. The simulator's application runs this service
/// beside its server; without ``SimulatorConfiguration/webhooks`` it plans nothing and sleeps.
final class WebhookSender: Service, Sendable {
    typealias Job = @Sendable () async -> Void

    /// A response whose event has not gone yet.
    private struct Pending {
        let plan: WebhookPlan
        /// The event its planned end brings; nil for a `stuck` one, which only a cancel ends.
        let type: String?
        var endedAt: Double
        var cancelled = false
        /// The event a cancel through the API sends instead.
        var cancelledType = "response.cancelled"
    }

    private struct Inner {
        var pending: [String: Pending] = [:]
        var counters = WebhookCounters()
        /// The running loop's queue; jobs wait in `backlog` while none runs.
        var jobs: AsyncStream<Job>.Continuation?
        var backlog: [Job] = []
        /// Creates without a run id seen so far: the key of their `earlyRate` draw.
        var anonymousCreates: UInt64 = 0
    }

    private let inner = Mutex(Inner())
    let configuration: @Sendable () -> SimulatorConfiguration
    let now: @Sendable () -> Double
    let logger: Logger
    let transport: WebhookTransport

    /// - Parameters:
    ///   - configuration: the simulator's configuration as it stands, read at each step, so
    ///     `reconfigure` can turn webhooks on or change their rates while running.
    ///   - now: unix seconds, the clock the simulator plans responses with.
    init(
        configuration: @escaping @Sendable () -> SimulatorConfiguration, now: @escaping @Sendable () -> Double, logger: Logger
    ) {
        self.configuration = configuration
        self.now = now
        self.logger = logger
        transport = WebhookTransport()
    }

    var counters: WebhookCounters { inner.withLock { $0.counters } }

    // MARK: - What the routes report

    /// Whether this create's answer waits for its webhook (``WebhookSettings/earlyRate``),
    /// drawn from the seed and the run and attempt in its metadata, or its order of arrival.
    func drawsEarly(_ request: SimulatorState.CreateRequest) -> Bool {
        let c = configuration()
        guard request.background, let settings = c.webhooks, settings.earlyRate > 0 else { return false }
        let key: String
        if let run = request.metadata["kiln_run_id"] {
            key = run + "#" + (request.metadata["kiln_attempt"] ?? "")
        } else {
            let arrival = inner.withLock { state in
                state.anonymousCreates += 1
                return state.anonymousCreates
            }
            key = "arrival#\(arrival)"
        }
        return WebhookPlan.drawsEarly(key: key, seed: c.seed, rate: settings.earlyRate)
    }

    /// Plans the event of a new background response and starts the timer of its end; an early
    /// response's event is sent by ``deliverEarly(_:)`` instead, and a `stuck` one waits for a cancel.
    func responseCreated(_ response: SimulatedResponse, early: Bool) {
        let c = configuration()
        guard response.background, let settings = c.webhooks else { return }
        let plan = WebhookPlan(responseID: response.id, seed: c.seed, settings: settings, early: early)
        let type = WebhookMessage.eventType(for: response.status(at: response.endsAt))
        inner.withLock { $0.pending[response.id] = Pending(plan: plan, type: type, endedAt: response.endsAt) }
        guard !early, type != nil else { return }
        let id = response.id
        let due = response.endsAt + settings.delaySeconds
        enqueue {
            guard await self.sleep(until: due) else { return }
            await self.fire(id)
        }
    }

    /// Plans the `batch.*` event of a new batch at its planned end (`type` at `endsAt`); a
    /// cancel through the API changes it to `batch.cancelled` (``responseCancelled(_:at:)``).
    func batchCreated(_ id: String, type: String, endsAt: Double) {
        let c = configuration()
        guard let settings = c.webhooks else { return }
        let plan = WebhookPlan(responseID: id, seed: c.seed, settings: settings, early: false)
        inner.withLock {
            $0.pending[id] = Pending(plan: plan, type: type, endedAt: endsAt, cancelledType: "batch.cancelled")
        }
        enqueue {
            guard await self.sleep(until: endsAt + settings.delaySeconds) else { return }
            await self.fire(id)
        }
    }

    /// A cancel through the API ended a running response at `time`: its event becomes
    /// `response.cancelled`, due `delaySeconds` later. A second cancel changes nothing.
    func responseCancelled(_ id: String, at time: Double) {
        guard let settings = configuration().webhooks else { return }
        let marked = inner.withLock { state -> Bool in
            guard var pending = state.pending[id], !pending.cancelled else { return false }
            pending.cancelled = true
            pending.endedAt = time
            state.pending[id] = pending
            return true
        }
        guard marked else { return }
        enqueue {
            guard await self.sleep(until: time + settings.delaySeconds) else { return }
            await self.fire(id)
        }
    }

    /// Sends an early response's event now (whatever `delaySeconds`), for its create to answer
    /// once the first attempt is over; retries, a copy and an ignorable event follow as jobs.
    func deliverEarly(_ id: String) async {
        guard let (plan, event, ignorable) = take(id) else { return }
        count { $0.early += 1 }
        if let ignorable { enqueue { _ = await self.deliver(ignorable) } }
        if await !attempt(event) {
            enqueue { _ = await self.deliver(event, from: 2) }
        }
        if let after = plan.duplicateAfter {
            enqueue { await self.sendCopy(of: event, after: after) }
        }
    }

    // MARK: - The loop

    /// Runs the jobs (timers and deliveries) side by side until graceful shutdown, then cancels
    /// those still waiting. Refuses to start with invalid ``SimulatorConfiguration/webhooks``.
    func run() async throws {
        if let settings = configuration().webhooks { try settings.validate() }
        let (stream, continuation) = AsyncStream.makeStream(of: Job.self)
        let backlog = inner.withLock { state -> [Job] in
            state.jobs = continuation
            defer { state.backlog = [] }
            return state.backlog
        }
        for job in backlog { continuation.yield(job) }
        await withDiscardingTaskGroup { group in
            for await job in stream.cancelOnGracefulShutdown() {
                group.addTask { await job() }
            }
            group.cancelAll()
        }
        inner.withLock { $0.jobs = nil }
        continuation.finish()
    }

    private func enqueue(_ job: @escaping Job) {
        inner.withLock { state in
            if let jobs = state.jobs {
                jobs.yield(job)
            } else {
                state.backlog.append(job)
            }
        }
    }

    // MARK: - One response's event

    /// Sends the event of a response that ended, unless it already went: the first timer of
    /// its end (planned or cancelled) to come due wins.
    private func fire(_ id: String) async {
        guard let (plan, event, ignorable) = take(id) else { return }
        if let ignorable { enqueue { _ = await self.deliver(ignorable) } }
        if plan.dropped {
            count { $0.dropped += 1 }
            logger.debug("webhook dropped on purpose", metadata: ["response_id": "\(id)", "webhook_id": "\(event.webhookID)"])
            return
        }
        _ = await deliver(event)
        if let after = plan.duplicateAfter { await sendCopy(of: event, after: after) }
    }

    private func sendCopy(of event: WebhookMessage, after seconds: Double) async {
        guard await sleep(until: now() + seconds) else { return }
        count { $0.duplicates += 1 }
        _ = await deliver(event)
    }

    /// Takes a pending response's event out (so it goes once) and counts it.
    private func take(_ id: String) -> (WebhookPlan, WebhookMessage, WebhookMessage?)? {
        inner.withLock { state -> (WebhookPlan, WebhookMessage, WebhookMessage?)? in
            guard let pending = state.pending[id], let type = pending.cancelled ? pending.cancelledType : pending.type else {
                return nil
            }
            state.pending[id] = nil
            let (event, ignorable) = pending.plan.messages(type: type, endedAt: pending.endedAt)
            state.counters.events += 1
            if ignorable != nil { state.counters.ignorable += 1 }
            return (pending.plan, event, ignorable)
        }
    }

    func count(_ change: (inout WebhookCounters) -> Void) {
        inner.withLock { change(&$0.counters) }
    }

    /// Sleeps until `time` (unix seconds); false when cancelled (shutdown).
    func sleep(until time: Double) async -> Bool {
        let seconds = time - now()
        guard seconds > 0 else { return !Task.isCancelled }
        do {
            try await Task.sleep(for: .milliseconds(Int((seconds * 1000).rounded(.up))))
            return true
        } catch {
            return false
        }
    }
}
