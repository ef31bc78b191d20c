import Foundation
import GRDB
import KilnDomain

/// The batch lane's rows (`kiln_batches`) and the runs they hold.
extension SQLiteRunStore: BatchStore {
    public func join(_ runs: [BatchEntry], model: String, owner: String, settings: BatchSettings, now: Date) async throws -> [RunID] {
        guard !runs.isEmpty else { return [] }
        defer { localWrites.increment() }
        return try await perform("add \(runs.count) runs to a batch of \(model)") { [pool] in
            try await pool.write { db -> [RunID] in
                var gathering = BatchGathering(
                    open: try Row.fetchOne(
                        db, sql: "SELECT * FROM kiln_batches WHERE state = 'gathering' AND model = ? ORDER BY opened_at DESC LIMIT 1",
                        arguments: [model]
                    ).map(Self.decodeBatch), model: model, settings: settings, now: now)
                var joined: [RunID] = []
                for entry in runs {
                    let placement = gathering.place(lineBytes: entry.lineBytes)
                    if let full = placement.full {
                        try db.execute(sql: "UPDATE kiln_batches SET due_at = ? WHERE id = ?", arguments: [Self.text(now), full.id])
                    }
                    if placement.opened { try Self.insertBatch(placement.batch, db) }
                    let batch = placement.batch
                    guard
                        let update = RunUpdate.make(
                            .joinBatch(batchID: batch.id, promptVersion: entry.promptVersion), on: entry.run, at: now, actor: owner,
                            details: ["batch_id": .string(batch.id), "model": .string(model)]),
                        try Self.write(update, db)
                    else { continue }
                    try db.execute(
                        sql: "UPDATE kiln_batches SET request_count = request_count + 1, bytes = bytes + ?, updated_at = ? WHERE id = ?",
                        arguments: [entry.lineBytes, Self.text(now), batch.id])
                    gathering.joined(lineBytes: entry.lineBytes)
                    joined.append(entry.run.id)
                }
                return joined
            }
        }
    }

    public func claimBatches(owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [KilnBatch] {
        try await perform("claim batches") { [pool] in
            let nowText = Self.text(now)
            // Every poll pass asks; almost always nothing is due, and a read takes no write lock.
            let any = try await pool.read { db in
                try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM kiln_batches WHERE state <> 'done' AND due_at <= ?)", arguments: [nowText])
                    ?? false
            }
            guard any else { return [] }
            return try await pool.write { db -> [KilnBatch] in
                let due = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM kiln_batches WHERE state <> 'done' AND due_at <= ?
                            AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
                        ORDER BY due_at, id LIMIT ?
                        """,
                    arguments: [nowText, nowText, limit]
                ).map(Self.decodeBatch)
                return try due.map { batch -> KilnBatch in
                    var claimed = batch
                    claimed.leaseOwner = owner
                    claimed.leaseExpiresAt = leaseUntil
                    if claimed.state == .gathering { claimed.state = .sealed }
                    claimed.updatedAt = now
                    try db.execute(
                        sql: "UPDATE kiln_batches SET lease_owner = ?, lease_expires_at = ?, state = ?, updated_at = ? WHERE id = ?",
                        arguments: [owner, Self.text(leaseUntil), claimed.state.rawValue, nowText, batch.id])
                    return claimed
                }
            }
        }
    }

    public func saveBatch(_ batch: KilnBatch, owner: String, runs: [RunUpdate]) async throws -> Bool {
        defer { localWrites.increment() }
        return try await perform("save batch \(batch.id)") { [pool] in
            try await pool.write { db -> Bool in
                try db.execute(
                    sql: """
                        UPDATE kiln_batches SET state = ?, request_count = ?, bytes = ?, due_at = ?, lease_owner = ?, lease_expires_at = ?,
                            input_file_id = ?, provider_batch_id = ?, provider_status = ?, output_file_id = ?, error_file_id = ?,
                            cancel_sent_at = ?, tries = ?, error = ?, updated_at = ?, ended_at = ?
                        WHERE id = ? AND lease_owner = ? AND lease_expires_at > ?
                        """,
                    arguments: [
                        batch.state.rawValue, batch.requestCount, batch.bytes, Self.text(batch.dueAt), batch.leaseOwner,
                        Self.text(batch.leaseExpiresAt), batch.inputFileID, batch.providerBatchID, batch.providerStatus, batch.outputFileID,
                        batch.errorFileID, Self.text(batch.cancelSentAt), batch.tries, batch.error, Self.text(batch.updatedAt),
                        Self.text(batch.endedAt), batch.id, owner, Self.text(batch.updatedAt),
                    ])
                guard db.changesCount == 1 else { return false }
                for update in runs { _ = try Self.write(update, db) }
                return true
            }
        }
    }

    public func runs(inBatch id: String, inputs: Bool) async throws -> [Run] {
        try await perform("read the runs of batch \(id)") { [pool] in
            try await pool.read { db in
                try Row.fetchAll(
                    db,
                    sql:
                        "SELECT \(inputs ? "*" : Self.columnsWithoutInput) FROM ai_runs WHERE batch_id = ? AND lease_owner = ? ORDER BY id",
                    arguments: [id, KilnBatch.leaseName(id)]
                ).map(Self.decodeRun)
            }
        }
    }

    public func heldRuns(inBatch id: String) async throws -> (held: Int, cancelRequested: Int) {
        try await perform("count the runs of batch \(id)") { [pool] in
            try await pool.read { db in
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT count(*) AS held, count(cancel_requested_at) AS cancelled FROM ai_runs WHERE batch_id = ? AND lease_owner = ?",
                    arguments: [id, KilnBatch.leaseName(id)])
                return (row?["held"] ?? 0, row?["cancelled"] ?? 0)
            }
        }
    }

    public func makeBatchDue(providerBatchID: String, now: Date) async throws -> Bool {
        defer { localWrites.increment() }
        return try await perform("make batch \(providerBatchID) due") { [pool] in
            try await pool.write { db -> Bool in
                try db.execute(
                    sql: "UPDATE kiln_batches SET due_at = ? WHERE provider_batch_id = ? AND state = 'submitted' AND due_at > ?",
                    arguments: [Self.text(now), providerBatchID, Self.text(now)])
                return db.changesCount > 0
            }
        }
    }

    public func batch(_ id: String) async throws -> KilnBatch? {
        try await perform("read batch \(id)") { [pool] in
            try await pool.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM kiln_batches WHERE id = ?", arguments: [id]).map(Self.decodeBatch)
            }
        }
    }

    static func insertBatch(_ batch: KilnBatch, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO kiln_batches (id, model, state, opened_at, due_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                batch.id, batch.model, batch.state.rawValue, text(batch.openedAt), text(batch.dueAt), text(batch.updatedAt),
            ])
    }

    static func decodeBatch(_ row: Row) throws -> KilnBatch {
        func time(_ column: String) throws -> Date? { try Self.time(row, column, of: "batch") }
        let id: String = row["id"]
        guard let state = BatchState(rawValue: row["state"]) else {
            throw KilnError(.database, "batch \(id.prefix(64)) has an unknown state")
        }
        var batch = KilnBatch(
            id: id, model: row["model"], openedAt: try time("opened_at") ?? Date(timeIntervalSince1970: 0),
            dueAt: try time("due_at") ?? Date(timeIntervalSince1970: 0))
        batch.state = state
        batch.requestCount = row["request_count"]
        batch.bytes = row["bytes"]
        batch.leaseOwner = row["lease_owner"]
        batch.leaseExpiresAt = try time("lease_expires_at")
        batch.inputFileID = row["input_file_id"]
        batch.providerBatchID = row["provider_batch_id"]
        batch.providerStatus = row["provider_status"]
        batch.outputFileID = row["output_file_id"]
        batch.errorFileID = row["error_file_id"]
        batch.cancelSentAt = try time("cancel_sent_at")
        batch.tries = row["tries"]
        batch.error = row["error"]
        batch.updatedAt = try time("updated_at") ?? batch.openedAt
        batch.endedAt = try time("ended_at")
        return batch
    }
}
