import Foundation
import GRDB
import KilnDomain

/// The embedded store: `ai_runs` in one SQLite file, shared by any number of processes.
///
/// WAL lets readers work beside the one writer; every write is a `BEGIN IMMEDIATE`
/// transaction (GRDB's default for writable connections), so a claim takes the write lock
/// before it reads what is due and two processes can never claim the same run. A busy
/// database is waited for up to `busyTimeout`, then reported.
public final class SQLiteRunStore: RunStore {
    public let path: String
    let pool: DatabasePool
    /// How often ``changes()`` looks for writes of other processes (100 ms by default).
    public let changeCheckInterval: Duration
    let localWrites = LocalWrites()
    /// The tenant the last submission claim of this process served last (``FairShare``).
    let fairCursor = FairShareCursor()

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String, busyTimeout: TimeInterval = 10, changeCheckInterval: Duration = .milliseconds(100)) throws {
        self.path = path
        self.changeCheckInterval = changeCheckInterval
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.label = "kiln"
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            let reason = Self.translate(error, doing: "open the SQLite database at \(path)")
            guard let why = Self.unwritableFolder(of: path) else { throw reason }
            throw KilnError(reason.code, reason.message + " (\(why))")
        }
    }

    /// Wake-ups when any connection commits a write to the file — an application inserting
    /// a run or asking for a cancel from another process, another worker, a cron pass — within
    /// ``changeCheckInterval``, so an idle worker acts at once instead of after its idle sleep
    /// (the SQLite counterpart of PostgreSQL's `LISTEN`); see ``DataVersionWatcher``.
    public func changes() -> AsyncStream<Void>? {
        let watcher = DataVersionWatcher(pool: pool, interval: changeCheckInterval, localWrites: localWrites)
        return AsyncStream(unfolding: { await watcher.next() })
    }

    /// Migrations run on a Dispatch thread: GRDB's migrator is synchronous and may wait for
    /// another process's write lock, which must not hold one of the few cooperative threads.
    public func migrate() async throws {
        try await perform("migrate") { [pool] in
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try SQLiteSchema.migrator.migrate(pool) })
                }
            }
        }
    }

    public func insert(_ run: Run, event: RunEvent) async throws -> InsertOutcome {
        defer { localWrites.increment() }
        return try await perform("insert run \(run.id)") { [pool] in
            try await pool.write { db -> InsertOutcome in
                if let key = run.idempotencyKey,
                    let row = try Row.fetchOne(
                        db, sql: "SELECT * FROM ai_runs WHERE tenant_id = ? AND idempotency_key = ?",
                        arguments: [run.tenantID.rawValue, key])
                {
                    return .existing(try Self.decodeRun(row))
                }
                try Self.insertRow(run, db)
                try Self.insertEvent(event, db)
                return .inserted(run)
            }
        }
    }

    public func run(_ id: RunID, tenant: TenantID?) async throws -> Run? {
        try await perform("read run \(id)") { [pool] in
            try await pool.read { db in
                let row: Row?
                if let tenant {
                    row = try Row.fetchOne(
                        db, sql: "SELECT * FROM ai_runs WHERE id = ? AND tenant_id = ?",
                        arguments: [id.rawValue, tenant.rawValue])
                } else {
                    row = try Row.fetchOne(db, sql: "SELECT * FROM ai_runs WHERE id = ?", arguments: [id.rawValue])
                }
                return try row.map(Self.decodeRun)
            }
        }
    }

    public func runs(matching query: RunQuery) async throws -> [Run] {
        try await perform("list runs") { [pool] in
            try await pool.read { db in
                let (filter, arguments) = Self.filter(query)
                let columns = query.withoutInput ? Self.columnsWithoutInput : "*"
                return try Row.fetchAll(
                    db, sql: "SELECT \(columns) FROM ai_runs \(filter) ORDER BY created_at DESC, id DESC LIMIT ?",
                    arguments: arguments + [query.limit]
                ).map(Self.decodeRun)
            }
        }
    }

    public func claim(
        _ kind: ClaimKind, owner: String, limit: Int, leaseUntil: Date, now: Date, admission: Admission?
    ) async throws -> [Run] {
        let selection: String
        var columns = "*"
        switch kind {
        case .submission: selection = "status = 'queued' AND available_at <= ? ORDER BY available_at, id"
        case .abandonedSubmission: selection = "status = 'submitting' AND lease_expires_at <= ? ORDER BY lease_expires_at, id"
        case .poll:
            selection =
                "status = 'in_progress' AND next_poll_at <= ? AND (level IS NULL OR parent_run_id IS NOT NULL) ORDER BY next_poll_at, id"
        case .treeStep:
            selection =
                "status = 'in_progress' AND next_poll_at <= ? AND level IS NOT NULL AND parent_run_id IS NULL ORDER BY next_poll_at, id"
            columns = Self.columnsWithoutInput
        }
        let nowText = Self.text(now)
        return try await perform("claim runs") { [pool, columns, fairCursor] in
            try await pool.write { db -> [Run] in
                // Read through a cursor, each input parsed in SQLite's buffer: a document's text is held once.
                var candidates: [Run]
                if kind == .submission {
                    let (ids, last) = try Self.fairShare(db, now: Timestamp.format(now), limit: limit, after: fairCursor.tenant)
                    fairCursor.tenant = last
                    guard !ids.isEmpty else { return [] }
                    let marks = Array(repeating: "?", count: ids.count).joined(separator: ",")
                    let rows = try Array(
                        Row.fetchCursor(db, sql: "SELECT * FROM ai_runs WHERE id IN (\(marks))", arguments: StatementArguments(ids))
                            .map { try Self.decodeRun($0, inputInPlace: true) })
                    let order = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
                    candidates = rows.sorted { (order[$0.id.rawValue] ?? 0) < (order[$1.id.rawValue] ?? 0) }
                } else {
                    candidates = try Array(
                        Row.fetchCursor(db, sql: "SELECT \(columns) FROM ai_runs WHERE \(selection) LIMIT ?", arguments: [nowText, limit])
                            .map { try Self.decodeRun($0, inputInPlace: true) })
                }
                var claimed: [Run] = []
                if kind == .submission, let admission {
                    let admitted = try Self.admit(candidates, db, admission: admission, now: now)
                    for (run, reservation) in admitted.claims {
                        guard var update = kind.update(claiming: run, owner: owner, leaseUntil: leaseUntil, now: now) else { continue }
                        update.run.reservedCostMicros = reservation
                        if try Self.write(update, db) { claimed.append(update.run) }
                    }
                    for (run, failure) in admitted.failures {
                        if let update = RunUpdate.make(.fail(failure), on: run, at: now, actor: owner) { _ = try Self.write(update, db) }
                    }
                    let until = now.addingTimeInterval(admission.quotas.checkSeconds)
                    for hold in admitted.holds { try Self.apply(hold, db, now: now, until: until, actor: owner) }
                    return claimed
                }
                for candidate in candidates {
                    guard let update = kind.update(claiming: candidate, owner: owner, leaseUntil: leaseUntil, now: now),
                        try Self.write(update, db)
                    else { continue }
                    claimed.append(update.run)
                }
                return claimed
            }
        }
    }

    public func save(_ updates: [RunUpdate]) async throws -> [Bool] {
        guard !updates.isEmpty else { return [] }
        return try await perform("save \(updates.count) run updates") { [pool] in
            try await pool.write { db in try updates.map { try Self.write($0, db) } }
        }
    }

    public func requestCancellation(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run? {
        defer { localWrites.increment() }
        return try await perform("request cancellation of run \(id)") { [pool] in
            try await pool.write { db -> Run? in
                guard
                    let row = try Row.fetchOne(
                        db, sql: "SELECT * FROM ai_runs WHERE id = ? AND tenant_id = ?",
                        arguments: [id.rawValue, tenant.rawValue])
                else { return nil }
                let run = try Self.decodeRun(row)
                guard let update = RunUpdate.make(.requestCancellation, on: run, at: now, actor: actor) else { return run }
                try db.execute(
                    sql: "UPDATE ai_runs SET cancel_requested_at = ?, next_poll_at = ?, updated_at = ? WHERE id = ?",
                    arguments: [
                        Self.text(update.run.cancelRequestedAt), Self.text(update.run.nextPollAt), Self.text(now), id.rawValue,
                    ])
                if let event = update.event { try Self.insertEvent(event, db) }
                return update.run
            }
        }
    }

    public func record(_ mark: RunMark, on id: RunID, tenant: TenantID) async throws -> Run? {
        try await perform("record a \(mark.kind) on run \(id)") { [pool] in
            try await pool.write { db -> Run? in
                switch mark {
                case .review(let decision, let by, let at):
                    try db.execute(
                        sql: """
                            UPDATE ai_runs SET review_state = ?, reviewed_by = ?, reviewed_output = ?, reviewed_at = ?, updated_at = ?
                            WHERE id = ? AND tenant_id = ?
                            """,
                        arguments: [
                            decision.reviewState, by, decision.reviewedOutput?.jsonText, Self.text(at), Self.text(at), id.rawValue,
                            tenant.rawValue,
                        ])
                case .displayed(let by, let at):
                    try db.execute(
                        sql: "UPDATE ai_runs SET displayed_at = ?, displayed_by = ?, updated_at = ? WHERE id = ? AND tenant_id = ?",
                        arguments: [Self.text(at), by, Self.text(at), id.rawValue, tenant.rawValue])
                }
                return try Row.fetchOne(
                    db, sql: "SELECT * FROM ai_runs WHERE id = ? AND tenant_id = ?", arguments: [id.rawValue, tenant.rawValue]
                ).map(Self.decodeRun)
            }
        }
    }

    public func events(of id: RunID) async throws -> [RunEvent] {
        try await perform("read events of run \(id)") { [pool] in
            try await pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM ai_run_events WHERE run_id = ? ORDER BY id", arguments: [id.rawValue])
                    .map(Self.decodeEvent)
            }
        }
    }

    public func renewLeases(_ ids: [RunID], owner: String, until: Date) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let untilText = Self.text(until)
        return try await perform("renew \(ids.count) leases") { [pool] in
            try await pool.write { db in
                var renewed = 0
                for id in ids {
                    try db.execute(
                        sql: """
                            UPDATE ai_runs SET lease_expires_at = ?,
                                next_poll_at = CASE WHEN status = 'in_progress' THEN ? ELSE next_poll_at END
                            WHERE id = ? AND lease_owner = ?
                            """,
                        arguments: [untilText, untilText, id.rawValue, owner])
                    renewed += db.changesCount
                }
                return renewed
            }
        }
    }

    /// The guarded update: only Kiln's half of the row is written, so an application's
    /// concurrent write of `cancel_requested_at` is never overwritten.
    static func write(_ update: RunUpdate, _ db: Database) throws -> Bool {
        let run = update.run
        try db.execute(
            sql: """
                UPDATE ai_runs SET status = ?, attempt = ?, response_id = ?, provider_status = ?, output = ?,
                    error = ?, usage = ?, cost_micros = ?, poll_count = ?, next_poll_at = ?, available_at = ?,
                    lease_owner = ?, lease_expires_at = CASE WHEN ? AND lease_expires_at > ? THEN lease_expires_at ELSE ? END,
                    review_state = coalesce(?, review_state),
                    prompt_version = ?, send_started_at = ?, submitted_at = ?, provider_started_at = ?, provider_completed_at = ?,
                    finalized_at = ?, updated_at = ?, level = ?, wait_reason = ?, reserved_cost_micros = ?, batch_id = ?
                WHERE id = ? AND status = ? AND lease_owner IS ? AND (? IS NULL OR attempt = ?)
                """,
            arguments: [
                run.status.rawValue, run.attempt, run.responseID?.rawValue, run.providerStatus, JSONText.encode(run.output),
                JSONText.encode(run.error), JSONText.encode(run.usage), run.costMicros, run.pollCount, text(run.nextPollAt),
                text(run.availableAt), run.leaseOwner, update.keepsLease, text(run.leaseExpiresAt), text(run.leaseExpiresAt),
                run.reviewState, run.promptVersion,
                text(run.sendStartedAt), text(run.submittedAt), text(run.providerStartedAt), text(run.providerCompletedAt),
                text(run.finalizedAt),
                text(run.updatedAt), run.level, run.waitReason, run.reservedCostMicros, run.batchID, run.id.rawValue,
                update.expectedStatus.rawValue,
                update.expectedLeaseOwner,
                update.expectedAttempt, update.expectedAttempt,
            ])
        guard db.changesCount == 1 else { return false }
        if let event = update.event { try insertEvent(event, db) }
        return true
    }

}
