import Foundation
import KilnDomain
import Logging
import PostgresNIO

/// The batch lane's rows (`kiln_batches`) and the runs they hold.
extension PostgresRunStore: BatchStore {
    static let batchMigration: (String, [String]) = (
        "v12_batches",
        [
            """
            CREATE TABLE kiln_batches (
                id text PRIMARY KEY,
                model text NOT NULL,
                state text NOT NULL CHECK (state IN ('gathering','sealed','uploaded','creating','submitted','collecting','done')),
                request_count integer NOT NULL DEFAULT 0,
                bytes bigint NOT NULL DEFAULT 0,
                opened_at timestamptz NOT NULL,
                due_at timestamptz NOT NULL,
                lease_owner text,
                lease_expires_at timestamptz,
                input_file_id text,
                provider_batch_id text,
                provider_status text,
                output_file_id text,
                error_file_id text,
                cancel_sent_at timestamptz,
                tries integer NOT NULL DEFAULT 0,
                error text,
                updated_at timestamptz NOT NULL,
                ended_at timestamptz
            )
            """,
            "CREATE INDEX kiln_batches_due ON kiln_batches (due_at) WHERE state <> 'done'",
            "CREATE INDEX kiln_batches_gathering ON kiln_batches (model) WHERE state = 'gathering'",
            "CREATE INDEX kiln_batches_provider ON kiln_batches (provider_batch_id) WHERE provider_batch_id IS NOT NULL",
            "ALTER TABLE ai_runs ADD COLUMN batch_id text",
            "CREATE INDEX ai_runs_batch ON ai_runs (batch_id) WHERE batch_id IS NOT NULL",
        ]
    )

    static let batchColumns = """
        id, model, state, request_count, bytes::integer AS bytes, opened_at, due_at, lease_owner, lease_expires_at, input_file_id, \
        provider_batch_id, provider_status, output_file_id, error_file_id, cancel_sent_at, tries, error, updated_at, ended_at
        """

    public func join(_ runs: [BatchEntry], model: String, owner: String, settings: BatchSettings, now: Date) async throws -> [RunID] {
        guard !runs.isEmpty else { return [] }
        return try await perform("add \(runs.count) runs to a batch of \(model)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> [RunID] in
                // One gathering batch per model at a time: joins of one model take turns.
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.batchLockKey), hashtext(\(model)))", logger: logger)
                var gathering = BatchGathering(
                    open: try await Self.fetchBatches(
                        connection,
                        // Locked: a claim sealing it meanwhile either skips it or is waited for (then it is not gathering).
                        "WHERE state = 'gathering' AND model = \(model) ORDER BY opened_at DESC LIMIT 1 FOR UPDATE",
                        logger: logger
                    ).first, model: model, settings: settings, now: now)
                var joined: [RunID] = []
                for entry in runs {
                    let placement = gathering.place(lineBytes: entry.lineBytes)
                    if let full = placement.full {
                        try await connection.query("UPDATE kiln_batches SET due_at = \(now) WHERE id = \(full.id)", logger: logger)
                    }
                    let batch = placement.batch
                    if placement.opened {
                        try await connection.query(
                            """
                            INSERT INTO kiln_batches (id, model, state, opened_at, due_at, updated_at)
                            VALUES (\(batch.id), \(batch.model), \(batch.state.rawValue), \(batch.openedAt), \(batch.dueAt), \(batch.updatedAt))
                            """, logger: logger)
                    }
                    guard
                        let update = RunUpdate.make(
                            .joinBatch(batchID: batch.id, promptVersion: entry.promptVersion), on: entry.run, at: now, actor: owner,
                            details: ["batch_id": .string(batch.id), "model": .string(model)]),
                        try await Self.write(update, connection, logger: logger)
                    else { continue }
                    try await connection.query(
                        """
                        UPDATE kiln_batches SET request_count = request_count + 1, bytes = bytes + \(entry.lineBytes), updated_at = \(now)
                        WHERE id = \(batch.id)
                        """, logger: logger)
                    gathering.joined(lineBytes: entry.lineBytes)
                    joined.append(entry.run.id)
                }
                return joined
            }
        }
    }

    /// The first key of the advisory lock that serializes joins to one model's batch.
    static let batchLockKey: Int32 = 0x4b42_4154  // "KBAT"

    public func claimBatches(owner: String, limit: Int, leaseUntil: Date, now: Date) async throws -> [KilnBatch] {
        try await perform("claim batches") { [self] in
            try await client.withTransaction(logger: logger) { connection -> [KilnBatch] in
                let due = try await Self.fetchBatches(
                    connection,
                    """
                    WHERE state <> 'done' AND due_at <= \(now) AND (lease_expires_at IS NULL OR lease_expires_at <= \(now))
                    ORDER BY due_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                var claimed: [KilnBatch] = []
                for batch in due {
                    var next = batch
                    next.leaseOwner = owner
                    next.leaseExpiresAt = leaseUntil
                    if next.state == .gathering { next.state = .sealed }
                    next.updatedAt = now
                    try await connection.query(
                        """
                        UPDATE kiln_batches SET lease_owner = \(owner), lease_expires_at = \(leaseUntil), state = \(next.state.rawValue),
                            updated_at = \(now)
                        WHERE id = \(batch.id)
                        """, logger: logger)
                    claimed.append(next)
                }
                return claimed
            }
        }
    }

    public func saveBatch(_ batch: KilnBatch, owner: String, runs: [RunUpdate]) async throws -> Bool {
        try await perform("save batch \(batch.id)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Bool in
                let rows = try await connection.query(
                    """
                    UPDATE kiln_batches SET state = \(batch.state.rawValue), request_count = \(batch.requestCount), bytes = \(batch.bytes),
                        due_at = \(batch.dueAt), lease_owner = \(batch.leaseOwner), lease_expires_at = \(batch.leaseExpiresAt),
                        input_file_id = \(batch.inputFileID), provider_batch_id = \(batch.providerBatchID),
                        provider_status = \(batch.providerStatus), output_file_id = \(batch.outputFileID),
                        error_file_id = \(batch.errorFileID), cancel_sent_at = \(batch.cancelSentAt), tries = \(batch.tries),
                        error = \(batch.error), updated_at = \(batch.updatedAt), ended_at = \(batch.endedAt)
                    WHERE id = \(batch.id) AND lease_owner = \(owner) AND lease_expires_at > \(batch.updatedAt)
                    RETURNING id
                    """, logger: logger)
                guard try await !rows.collect().isEmpty else { return false }
                for update in runs { _ = try await Self.write(update, connection, logger: logger) }
                return true
            }
        }
    }

    public func runs(inBatch id: String, inputs: Bool) async throws -> [Run] {
        try await perform("read the runs of batch \(id)") { [self] in
            try await client.withConnection { connection in
                let tail: PostgresQuery = "WHERE batch_id = \(id) AND lease_owner = \(KilnBatch.leaseName(id)) ORDER BY id"
                return inputs
                    ? try await Self.fetch(connection, tail, logger: logger)
                    : try await Self.fetchWithoutInput(connection, tail, logger: logger)
            }
        }
    }

    public func heldRuns(inBatch id: String) async throws -> (held: Int, cancelRequested: Int) {
        try await perform("count the runs of batch \(id)") { [self] in
            var counts = (held: 0, cancelRequested: 0)
            for try await (held, cancelled) in try await client.query(
                """
                SELECT count(*)::bigint, count(cancel_requested_at)::bigint FROM ai_runs
                WHERE batch_id = \(id) AND lease_owner = \(KilnBatch.leaseName(id))
                """, logger: logger
            ).decode((Int64, Int64).self) {
                counts = (Int(held), Int(cancelled))
            }
            return counts
        }
    }

    public func makeBatchDue(providerBatchID: String, now: Date) async throws -> Bool {
        try await perform("make batch \(providerBatchID) due") { [self] in
            let rows = try await client.query(
                """
                UPDATE kiln_batches SET due_at = \(now)
                WHERE provider_batch_id = \(providerBatchID) AND state = 'submitted' AND due_at > \(now)
                RETURNING id
                """, logger: logger)
            return try await !rows.collect().isEmpty
        }
    }

    public func batch(_ id: String) async throws -> KilnBatch? {
        try await perform("read batch \(id)") { [self] in
            try await client.withConnection { connection in
                try await Self.fetchBatches(connection, "WHERE id = \(id)", logger: logger).first
            }
        }
    }

    static func fetchBatches(_ connection: PostgresConnection, _ tail: PostgresQuery, logger: Logger) async throws -> [KilnBatch] {
        var query = PostgresQuery(unsafeSQL: "SELECT \(batchColumns) FROM kiln_batches " + tail.sql)
        query.binds = tail.binds
        var batches: [KilnBatch] = []
        for try await row in try await connection.query(query, logger: logger) {
            let row = row.makeRandomAccess()
            let id = try row["id"].decode(String.self)
            guard let state = BatchState(rawValue: try row["state"].decode(String.self)) else {
                throw KilnError(.database, "batch \(id.prefix(64)) has an unknown state")
            }
            var batch = KilnBatch(
                id: id, model: try row["model"].decode(String.self), openedAt: try row["opened_at"].decode(Date.self),
                dueAt: try row["due_at"].decode(Date.self))
            batch.state = state
            batch.requestCount = try row["request_count"].decode(Int.self)
            batch.bytes = try row["bytes"].decode(Int.self)
            batch.leaseOwner = try row["lease_owner"].decode(String?.self)
            batch.leaseExpiresAt = try row["lease_expires_at"].decode(Date?.self)
            batch.inputFileID = try row["input_file_id"].decode(String?.self)
            batch.providerBatchID = try row["provider_batch_id"].decode(String?.self)
            batch.providerStatus = try row["provider_status"].decode(String?.self)
            batch.outputFileID = try row["output_file_id"].decode(String?.self)
            batch.errorFileID = try row["error_file_id"].decode(String?.self)
            batch.cancelSentAt = try row["cancel_sent_at"].decode(Date?.self)
            batch.tries = try row["tries"].decode(Int.self)
            batch.error = try row["error"].decode(String?.self)
            batch.updatedAt = try row["updated_at"].decode(Date.self)
            batch.endedAt = try row["ended_at"].decode(Date?.self)
            batches.append(batch)
        }
        return batches
    }
}
