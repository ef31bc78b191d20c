import Foundation
import KilnDomain
import KilnWorker
import Logging

/// The batch lane's steps, each from one recorded state to the next (``Poller/carry(_:lane:)``):
/// upload the file, create the batch (or find the one a lost create made), poll it, and map
/// its results back to its runs.
extension Poller {

    /// Lets go of runs cancelled (or no longer fit for a batch) while it gathered, builds the
    /// file of the rest and uploads it. Nil: it waits (a failed upload) or is done.
    func upload(_ claimed: KilnBatch, lane: WorkerEnvironment.BatchLane) async throws -> KilnBatch? {
        var batch = claimed
        batch.state = .sealed
        Failpoint.hit("batch.sealed")
        let now = environment.clock.now()
        // The gathering is over: only the batch's own window and a poll must still fit.
        var sealedSettings = environment.configuration.batch
        sealedSettings.gatherSeconds = 0
        let decision = SubmitDecision(
            settings: environment.configuration.submitter, limits: environment.configuration.limits, batch: sealedSettings,
            batchLaneAvailable: true)
        var updates: [RunUpdate] = []
        var lines: [Data] = []
        for run in try await lane.store.runs(inBatch: batch.id, inputs: true) {
            var unbatched = run
            unbatched.batchID = nil
            let verdict: BatchDecision.Verdict
            switch decision.plan(for: unbatched, policy: environment.policy(of: run), features: environment.features, now: now) {
            case .batch(var request, let version, _):
                request.promptCacheKey = environment.promptCacheKeys.key(feature: run.feature, promptVersion: version, now: now)
                let provider = ProviderRequest(generation: request, metadata: ProviderRequest.metadata(run: run.id, attempt: run.attempt))
                do throws(ProviderError) {
                    lines.append(try lane.client.batchLine(customID: run.id.rawValue, request: provider))
                    continue
                } catch {
                    verdict = BatchDecision.Verdict(.leaveBatch(lastError: error.failure))
                }
            case .settle(let transition):
                verdict = BatchDecision.Verdict(transition)
            case .send, .expand:
                verdict = BatchDecision.Verdict(
                    .leaveBatch(
                        lastError: RunFailure(
                            code: "batch_window_too_long", message: "its deadline no longer leaves a batch time to run", source: .kiln)))
            }
            if var update = RunUpdate.make(verdict.transition, on: run, at: now, actor: environment.owner, details: verdict.details) {
                update.run.attempt = max(0, run.attempt - 1)  // counted when it joined; it was never sent
                updates.append(update)
            }
        }
        let logger = batchLogger(batch)
        guard !lines.isEmpty else {
            guard try await save(batch, lane: lane, runs: updates), try await lettingGo(batch, lane: lane) else { return nil }
            batch.state = .done
            batch.endedAt = now
            _ = try await save(batch, lane: lane)
            logger.info("batch closed with nothing to send")
            return nil
        }
        let content = lines.reduce(into: Data()) { $0.append($1) }
        do throws(ProviderError) {
            batch.inputFileID = try await lane.client.uploadBatchFile(content, filename: "kiln-\(batch.id).jsonl")
        } catch {
            logger.warning("batch file upload failed", metadata: [LogKey.error: "\(error.code)"])
            return try await failedCall(batch, error: error, lane: lane, runs: updates)
        }
        Failpoint.hit("batch.uploaded")
        batch.state = .uploaded
        batch.requestCount = lines.count
        batch.bytes = content.count
        batch.tries = 0
        guard try await save(batch, lane: lane, runs: updates) else { return nil }
        logger.info("batch file uploaded: \(lines.count) requests, \(content.count) bytes")
        return batch
    }

    /// Creates the provider batch (or, when a process may have created it already, finds it
    /// by its metadata first); its runs move to `in_progress`.
    func create(_ claimed: KilnBatch, lane: WorkerEnvironment.BatchLane, lookFirst: Bool) async throws -> KilnBatch? {
        var batch = claimed
        guard let inputFileID = batch.inputFileID else {
            return try await giveBack(
                batch, lane: lane, reason: RunFailure(code: "batch_lost_file", message: "no input file", source: .kiln))
        }
        let logger = batchLogger(batch)
        let created: ProviderBatch
        do throws(ProviderError) {
            let metadata = [KilnBatch.metadataKey: batch.id]
            if lookFirst,
                let found = try await lane.client.findBatch(
                    metadata: KilnBatch.metadataKey, value: batch.id, since: batch.openedAt.addingTimeInterval(-3600))
            {
                logger.info("found the batch a lost create made", metadata: [LogKey.providerBatchID: "\(found.id)"])
                created = found
            } else {
                created = try await lane.client.createBatch(inputFileID: inputFileID, metadata: metadata)
            }
        } catch {
            logger.warning("batch create failed", metadata: [LogKey.error: "\(error.code)"])
            return try await failedCall(batch, error: error, lane: lane, runs: [])
        }
        Failpoint.hit("batch.created")
        let now = environment.clock.now()
        batch.providerBatchID = created.id
        batch.providerStatus = created.status
        batch.state = .submitted
        batch.tries = 0
        batch.dueAt = now.addingTimeInterval(environment.configuration.batch.pollSeconds)
        let updates = try await lane.store.runs(inBatch: batch.id, inputs: false).compactMap { run in
            run.status == .submitting
                ? RunUpdate.make(
                    .batchSubmitted(providerStatus: created.status), on: run, at: now, actor: environment.owner,
                    details: ["batch": .string(created.id)]) : nil
        }
        guard try await save(batch, lane: lane, runs: updates) else { return nil }
        logger.info("batch created", metadata: [LogKey.providerBatchID: "\(created.id)"])
        return batch
    }

    /// Polls the provider batch; cancels it when every run it carries was cancelled.
    func poll(_ claimed: KilnBatch, lane: WorkerEnvironment.BatchLane) async throws -> KilnBatch? {
        var batch = claimed
        guard let providerID = batch.providerBatchID else { return nil }
        let logger = batchLogger(batch)
        let settings = environment.configuration.batch
        let members = try await lane.store.heldRuns(inBatch: batch.id)
        let cancelAll = batch.cancelSentAt == nil && members.held > 0 && members.held == members.cancelRequested
        let answer: ProviderBatch
        do throws(ProviderError) {
            answer = cancelAll ? try await lane.client.cancelBatch(providerID) : try await lane.client.retrieveBatch(providerID)
        } catch {
            if error.kind == .notFound {
                return try await giveBack(
                    batch, lane: lane,
                    reason: RunFailure(
                        code: "batch_not_found", message: "the provider no longer has batch \(providerID)", source: .provider))
            }
            logger.info("batch poll failed", metadata: [LogKey.error: "\(error.code)"])
            batch.tries += 1
            batch.dueAt = environment.clock.now().addingTimeInterval(max(error.retryAfter ?? 0, settings.backoff(tries: batch.tries)))
            batch.leaseOwner = nil
            batch.leaseExpiresAt = nil
            _ = try await save(batch, lane: lane)
            return nil
        }
        if cancelAll {
            batch.cancelSentAt = environment.clock.now()
            logger.info("every run of the batch was cancelled: batch cancelled at the provider")
        }
        batch.providerStatus = answer.status
        batch.tries = 0
        guard answer.isTerminal else {
            batch.dueAt = environment.clock.now().addingTimeInterval(settings.pollSeconds)
            batch.leaseOwner = nil
            batch.leaseExpiresAt = nil
            _ = try await save(batch, lane: lane)
            return nil
        }
        batch.outputFileID = answer.outputFileID
        batch.errorFileID = answer.errorFileID
        if answer.status == "failed" { batch.error = String(answer.errors.joined(separator: "; ").prefix(1000)) }
        batch.state = .collecting
        guard try await save(batch, lane: lane) else { return nil }
        logger.info(
            "batch ended \(answer.status): \(answer.completed ?? 0) completed, \(answer.failed ?? 0) failed of \(answer.total ?? 0)")
        return batch
    }

    /// Reads the output and error files and ends (or re-queues) every run the batch still
    /// holds; then deletes the files and closes the batch.
    func collect(_ claimed: KilnBatch, lane: WorkerEnvironment.BatchLane) async throws -> KilnBatch? {
        var batch = claimed
        let providerID = batch.providerBatchID ?? "?"
        let status = batch.providerStatus ?? "completed"
        let logger = batchLogger(batch)
        let members = try await lane.store.runs(inBatch: batch.id, inputs: false)
        if status == "failed" {
            let reason = RunFailure(
                code: "batch_failed", message: "the provider refused the batch: \(batch.error ?? "no reason given")", source: .provider)
            return try await giveBack(batch, lane: lane, reason: reason)
        }
        var results: [String: BatchResult] = [:]
        if !members.isEmpty {
            do throws(ProviderError) {
                for file in [batch.outputFileID, batch.errorFileID].compactMap({ $0 }) {
                    results.merge(try await lane.client.batchResults(fileID: file)) { first, _ in first }
                }
            } catch {
                logger.warning("batch results could not be read", metadata: [LogKey.error: "\(error.code)"])
                guard error.kind == .permanent || error.kind == .notFound else {
                    return try await failedCall(batch, error: error, lane: lane, runs: [])
                }
                // The provider ran (and bills) what the lost files held: never sent again.
                let lost = RunFailure(
                    code: "batch_results_lost", message: "the results of batch \(providerID) could not be read: \(error.message)",
                    source: .provider)
                return try await giveBack(batch, lane: lane, reason: lost, fail: true)
            }
            Failpoint.hit("batch.results_read")
        }
        let configuration = environment.configuration
        let decision = BatchDecision(prices: configuration.prices, pricing: configuration.pricing, features: environment.features)
        let now = environment.clock.now()
        var updates: [RunUpdate] = []
        for run in members {
            let verdict = decision.settle(
                run, result: results[run.id.rawValue], batchStatus: status, providerBatchID: providerID,
                policy: environment.policy(of: run),
                now: now)
            guard var update = RunUpdate.make(verdict.transition, on: run, at: now, actor: environment.owner, details: verdict.details)
            else { continue }
            // The response the batch made for the run: kept, like a standard run's, to be deleted at the provider.
            if case .response(let response)? = results[run.id.rawValue], update.run.status.isTerminal {
                update.run.responseID = response.id
            }
            updates.append(update)
        }
        var written = 0
        for start in stride(from: 0, to: updates.count, by: Self.resultsPerTransaction) {
            let chunk = Array(updates[start..<min(updates.count, start + Self.resultsPerTransaction)])
            guard try await save(batch, lane: lane, runs: chunk) else { return nil }
            written += chunk.count
            Failpoint.hit("batch.collecting")
        }
        guard try await lettingGo(batch, lane: lane) else { return nil }
        await deleteFiles(of: batch, lane: lane)
        batch.state = .done
        batch.endedAt = environment.clock.now()
        _ = try await save(batch, lane: lane)
        logger.info("batch results mapped back to \(written) runs")
        return nil
    }
}
