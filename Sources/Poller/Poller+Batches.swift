import Foundation
import KilnDomain
import KilnWorker
import Logging

/// The batch lane's carrier: each due batch (``KilnBatch``) is taken one step further —
/// sealed, its file built and uploaded, the batch created, polled, its results mapped back
/// to its runs — each step recorded before or after its provider call, so that a process
/// killed anywhere leaves a state the next one resumes (a create whose answer was lost is
/// found again by the batch's metadata, never made twice).
extension Poller {
    /// Batches a pass takes at most.
    static let batchesPerPass = 4
    /// Runs written per transaction when a batch's results are mapped back.
    static let resultsPerTransaction = 500

    func stepBatches(now: Date, dueBy: Date?, into result: inout PollPassResult) async throws {
        guard let lane = environment.batchLane else { return }
        let settings = environment.configuration.batch
        // One at a time: a batch is leased only while this process works on it.
        for _ in 0..<Self.batchesPerPass {
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            let start = environment.clock.now()
            guard
                let batch = try await lane.store.claimBatches(
                    owner: environment.owner, limit: 1, leaseUntil: start.addingTimeInterval(settings.leaseSeconds),
                    now: dueBy ?? start
                ).first
            else { break }
            try await carry(batch, lane: lane)
            result.batchesLookedAt += 1
        }
    }

    func batchLogger(_ batch: KilnBatch) -> Logger {
        var logger = environment.logger
        logger[metadataKey: LogKey.batchID] = "\(batch.id)"
        logger[metadataKey: LogKey.model] = "\(batch.model)"
        if let id = batch.providerBatchID { logger[metadataKey: LogKey.providerBatchID] = "\(id)" }
        return logger
    }

    /// Takes `batch` as far as it goes now: until it waits for the provider, or is done.
    func carry(_ claimed: KilnBatch, lane: WorkerEnvironment.BatchLane) async throws {
        var batch = claimed
        var resumedCreate = claimed.state == .creating
        while true {
            let next: KilnBatch?
            switch batch.state {
            case .gathering, .sealed: next = try await upload(batch, lane: lane)
            case .uploaded:
                batch.state = .creating
                guard try await save(batch, lane: lane) else { return }
                Failpoint.hit("batch.creating")
                resumedCreate = false
                next = batch
            case .creating: next = try await create(batch, lane: lane, lookFirst: resumedCreate)
            case .submitted: next = try await poll(batch, lane: lane)
            case .collecting: next = try await collect(batch, lane: lane)
            case .done: next = nil
            }
            guard let next else { return }
            batch = next
        }
    }

    // MARK: - Helpers

    /// Whether the batch holds no run any more (so it may close); if one is left (a write whose
    /// guard failed), the step is tried again after a back-off instead of leaving the run held.
    func lettingGo(_ claimed: KilnBatch, lane: WorkerEnvironment.BatchLane) async throws -> Bool {
        let left = try await lane.store.heldRuns(inBatch: claimed.id).held
        guard left > 0 else { return true }
        var batch = claimed
        batchLogger(batch).error("the batch still holds \(left) runs after its step: trying the step again")
        batch.tries += 1
        batch.dueAt = environment.clock.now().addingTimeInterval(environment.configuration.batch.backoff(tries: batch.tries))
        batch.leaseOwner = nil
        batch.leaseExpiresAt = nil
        _ = try await save(batch, lane: lane)
        return false
    }

    /// A failed provider call of a step: due again after a back-off, or — a refusal, or too
    /// many tries — the batch gives its runs back to the queue.
    func failedCall(
        _ claimed: KilnBatch, error: ProviderError, lane: WorkerEnvironment.BatchLane, runs updates: [RunUpdate]
    ) async throws -> KilnBatch? {
        var batch = claimed
        batch.tries += 1
        let settings = environment.configuration.batch
        // A create whose answer was lost may have made the batch, and results may be billed already:
        // those steps are never given up on; only a refusal ends them.
        let outOfTries = batch.tries >= settings.maxTries && batch.state != .creating && batch.state != .collecting
        if error.kind == .permanent || error.kind == .notFound || outOfTries {
            _ = try await save(batch, lane: lane, runs: updates)
            return try await giveBack(batch, lane: lane, reason: error.failure)
        }
        batch.dueAt = environment.clock.now().addingTimeInterval(max(error.retryAfter ?? 0, settings.backoff(tries: batch.tries)))
        batch.leaseOwner = nil
        batch.leaseExpiresAt = nil
        _ = try await save(batch, lane: lane, runs: updates)
        return nil
    }

    /// Ends the batch without results: every run it holds goes back to the queue (sent at
    /// standard next), or ends cancelled when that was asked.
    func giveBack(
        _ claimed: KilnBatch, lane: WorkerEnvironment.BatchLane, reason: RunFailure, fail: Bool = false
    ) async throws -> KilnBatch? {
        var batch = claimed
        let now = environment.clock.now()
        let configuration = environment.configuration
        let decision = BatchDecision(prices: configuration.prices, pricing: configuration.pricing, features: environment.features)
        let updates = try await lane.store.runs(inBatch: batch.id, inputs: false).compactMap { run -> RunUpdate? in
            let verdict =
                fail
                ? BatchDecision.Verdict(.fail(reason), details: ["reason": .string(reason.code)])
                : decision.giveBack(run, reason: reason, providerBatchID: batch.providerBatchID)
            return RunUpdate.make(verdict.transition, on: run, at: now, actor: environment.owner, details: verdict.details)
        }
        batchLogger(batch).warning(
            "batch gave its \(updates.count) runs back to the queue (they go standard)", metadata: [LogKey.error: "\(reason.code)"])
        batch.error = "\(reason.code): \(reason.message)"
        for start in stride(from: 0, to: updates.count, by: Self.resultsPerTransaction) {
            let chunk = Array(updates[start..<min(updates.count, start + Self.resultsPerTransaction)])
            guard try await save(batch, lane: lane, runs: chunk) else { return nil }
        }
        guard try await lettingGo(batch, lane: lane) else { return nil }
        await deleteFiles(of: batch, lane: lane)
        batch.state = .done
        batch.endedAt = now
        _ = try await save(batch, lane: lane)
        return nil
    }

    /// Best effort: a file left behind expires at the provider by itself.
    func deleteFiles(of batch: KilnBatch, lane: WorkerEnvironment.BatchLane) async {
        guard environment.configuration.batch.deleteFiles else { return }
        for file in [batch.inputFileID, batch.outputFileID, batch.errorFileID].compactMap({ $0 }) {
            do throws(ProviderError) {
                try await lane.client.deleteFile(file)
            } catch {
                if error.kind != .notFound {
                    batchLogger(batch).info("batch file not deleted (it expires by itself)", metadata: [LogKey.error: "\(error.code)"])
                }
            }
        }
    }

    /// Writes the batch (and its runs' updates) under this process's lease.
    func save(_ batch: KilnBatch, lane: WorkerEnvironment.BatchLane, runs: [RunUpdate] = []) async throws -> Bool {
        var written = batch
        written.updatedAt = environment.clock.now()
        // Every step renews the lease it holds (the store refuses a write once it ran out), so the
        // next provider call is made under a lease that outlasts it.
        if written.leaseOwner != nil {
            written.leaseExpiresAt = written.updatedAt.addingTimeInterval(environment.configuration.batch.leaseSeconds)
        }
        let saved = try await lane.store.saveBatch(written, owner: environment.owner, runs: runs)
        if saved {
            for update in runs { Telemetry.record(update) }
        } else {
            batchLogger(batch).info("another process took the batch over")
        }
        return saved
    }
}
