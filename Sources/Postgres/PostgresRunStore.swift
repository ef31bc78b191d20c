import Foundation
import KilnDomain
import Logging
import NIOPosix
import PostgresNIO
import ServiceLifecycle

/// The shared store: `ai_runs` on PostgreSQL, for many executors on many machines.
///
/// Claims select due rows `FOR UPDATE SKIP LOCKED`, so executors never wait on each other
/// and never get the same run; every guarded transition is written with its event row in
/// one transaction. The connection pool reconnects by itself after a server restart or a
/// dropped connection; a pass that fails meanwhile is retried by the worker loop, and any
/// lease it held simply expires.
public final class PostgresRunStore: RunStore, Service {
    let logger: Logger
    /// The tenant the last submission claim of this process served last (``FairShare``).
    let fairCursor = FairShareCursor()
    private let location: PostgresURL
    let pool: ReplaceablePool
    private let notifications: NotificationListener

    /// Connects to `url` (`postgres://user:password@host:port/database?sslmode=disable`).
    /// An operation that waits longer than `operationTimeout` fails and the pool is replaced
    /// (``ReplaceablePool``).
    public init(
        url: String, maxConnections: Int = 10, operationTimeout: Duration = .seconds(30), logger: Logger = Logger(label: "kiln.postgres")
    ) throws {
        let location = try PostgresURL(url)
        self.location = location
        var configuration = location.clientConfiguration
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectTimeout = .seconds(5)
        self.logger = logger
        pool = ReplaceablePool(configuration: configuration, operationTimeout: operationTimeout, logger: logger)
        notifications = NotificationListener(pool: pool, logger: logger)
    }

    deinit {
        notifications.stop()
    }

    /// The current connection pool.
    var client: PostgresClient { pool.client }

    /// Closes the pool.
    public func shutdown() {
        notifications.stop()
        pool.shutdown()
    }

    /// As a `Service` of the worker's group: the pool and the `LISTEN` connection are closed
    /// when the group shuts down gracefully (put the store first in the group, so it goes
    /// last). A group cancelled past its grace period leaves them open: passes still giving
    /// leases back need them until the process ends.
    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return
        }
        shutdown()
    }

    public func migrate() async throws {
        try await checkConnection()
        // Not bounded in time: a migration waits for another executor's under the advisory lock.
        do {
            try await PostgresSchema.migrate(client, logger: logger)
        } catch let error as PSQLError {
            throw KilnError(.database, "could not migrate: PostgreSQL: \(error.serverInfo?[.message] ?? "\(error.code)")")
        }
    }

    /// One direct connection with a short timeout, so an unreachable server or a refused
    /// login is reported at once and clearly (the pool would keep retrying).
    public func checkConnection() async throws {
        let target = "PostgreSQL at \(location.host):\(location.port)/\(location.database)"
        do {
            let connection = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: location.connectionConfiguration, id: 0,
                logger: logger
            ).get()
            try await connection.close()
        } catch let error as PSQLError {
            let reason = error.serverInfo?[.message] ?? "\(error.code)"
            throw KilnError(.database, "cannot connect to \(target): \(reason)")
        } catch {
            throw KilnError(.database, "cannot connect to \(target): \(String(describing: error).prefix(120))")
        }
    }

    public func insert(_ run: Run, event: RunEvent) async throws -> InsertOutcome {
        try await perform("insert run \(run.id)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> InsertOutcome in
                let inserted = try await connection.query(
                    """
                    INSERT INTO ai_runs (id, tenant_id, user_id, feature, subject_type, subject_id, idempotency_key, input,
                        policy, status, prompt_version, available_at, created_at, updated_at, parent_run_id, chunk_index, level,
                        char_start, char_end)
                    VALUES (\(run.id.rawValue), \(run.tenantID.rawValue), \(run.userID), \(run.feature), \(run.subject?.type),
                        \(run.subject?.id), \(run.idempotencyKey), \(run.input.jsonText)::jsonb, \(run.policy.jsonText)::jsonb,
                        \(run.status.rawValue), \(run.promptVersion), \(run.availableAt), \(run.createdAt), \(run.updatedAt),
                        \(run.parentRunID?.rawValue), \(run.chunkIndex), \(run.level), \(run.charStart), \(run.charEnd))
                    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                    RETURNING id
                    """, logger: logger
                ).collect()
                if inserted.isEmpty, let key = run.idempotencyKey {
                    let existing = try await Self.fetch(
                        connection, "WHERE tenant_id = \(run.tenantID.rawValue) AND idempotency_key = \(key)", logger: logger)
                    guard let found = existing.first else { throw KilnError(.conflict, "run \(run.id) conflicts and cannot be read back") }
                    return .existing(found)
                }
                try await Self.insertEvent(event, connection, logger: logger)
                return .inserted(run)
            }
        }
    }

    public func run(_ id: RunID, tenant: TenantID?) async throws -> Run? {
        try await perform("read run \(id)") { [self] in
            try await client.withConnection { connection in
                if let tenant {
                    return try await Self.fetch(connection, "WHERE id = \(id.rawValue) AND tenant_id = \(tenant.rawValue)", logger: logger)
                        .first
                }
                return try await Self.fetch(connection, "WHERE id = \(id.rawValue)", logger: logger).first
            }
        }
    }

    public func runs(matching query: RunQuery) async throws -> [Run] {
        try await perform("list runs") { [self] in
            try await client.withConnection { connection in
                let tail = Self.filter(query)
                return try await query.withoutInput
                    ? Self.fetchWithoutInput(connection, tail, logger: logger) : Self.fetch(connection, tail, logger: logger)
            }
        }
    }

    public func claim(
        _ kind: ClaimKind, owner: String, limit: Int, leaseUntil: Date, now: Date, admission: Admission?
    ) async throws -> [Run] {
        try await perform("claim runs") { [self] in
            try await client.withTransaction(logger: logger) { connection -> [Run] in
                // Limits apply: this claim waits for any other executor's to commit, and then counts what it admitted.
                var limited = false
                if kind == .submission, let admission {
                    limited = try await Self.lockForQuotas(connection, admission: admission, logger: logger)
                }
                let due: PostgresQuery
                switch kind {
                case .submission:
                    due =
                        "WHERE status = 'queued' AND available_at <= \(now) ORDER BY available_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED"
                case .abandonedSubmission:
                    due =
                        "WHERE status = 'submitting' AND lease_expires_at <= \(now) ORDER BY lease_expires_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED"
                case .poll:
                    due = """
                        WHERE status = 'in_progress' AND next_poll_at <= \(now) AND (level IS NULL OR parent_run_id IS NOT NULL)
                        ORDER BY next_poll_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                        """
                case .treeStep:
                    due = """
                        WHERE status = 'in_progress' AND next_poll_at <= \(now) AND level IS NOT NULL AND parent_run_id IS NULL
                        ORDER BY next_poll_at, id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                        """
                }
                var claimed: [Run] = []
                let candidates: [Run]
                switch kind {
                case .submission:
                    let (runs, last) = try await Self.fairShare(
                        connection, now: now, limit: limit, after: fairCursor.tenant, logger: logger)
                    fairCursor.tenant = last
                    candidates = runs
                case .treeStep: candidates = try await Self.fetchWithoutInput(connection, due, logger: logger)
                default: candidates = try await Self.fetch(connection, due, logger: logger)
                }
                if limited, let admission {
                    return try await Self.claimAdmitted(
                        candidates, connection, admission: admission, owner: owner, leaseUntil: leaseUntil, now: now, logger: logger)
                }
                for current in candidates {
                    guard var update = kind.update(claiming: current, owner: owner, leaseUntil: leaseUntil, now: now) else { continue }
                    if kind == .submission, let assessment = admission?.assess(current) {
                        update.run.reservedCostMicros = assessment.exempt ? 0 : assessment.reservationMicros
                    }
                    guard try await Self.write(update, connection, logger: logger) else { continue }
                    claimed.append(update.run)
                }
                return claimed
            }
        }
    }

    public func save(_ updates: [RunUpdate]) async throws -> [Bool] {
        guard !updates.isEmpty else { return [] }
        return try await perform("save \(updates.count) run updates") { [self] in
            try await client.withTransaction(logger: logger) { connection -> [Bool] in
                var results: [Bool] = []
                for update in updates { results.append(try await Self.write(update, connection, logger: logger)) }
                return results
            }
        }
    }

    public func requestCancellation(_ id: RunID, tenant: TenantID, actor: String, now: Date) async throws -> Run? {
        try await perform("request cancellation of run \(id)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Run? in
                guard
                    let run = try await Self.fetch(
                        connection, "WHERE id = \(id.rawValue) AND tenant_id = \(tenant.rawValue) FOR UPDATE", logger: logger
                    ).first
                else { return nil }
                guard let update = RunUpdate.make(.requestCancellation, on: run, at: now, actor: actor) else { return run }
                try await connection.query(
                    """
                    UPDATE ai_runs SET cancel_requested_at = \(update.run.cancelRequestedAt), next_poll_at = \(update.run.nextPollAt),
                        updated_at = \(now) WHERE id = \(id.rawValue)
                    """, logger: logger)
                if let event = update.event { try await Self.insertEvent(event, connection, logger: logger) }
                return update.run
            }
        }
    }

    public func record(_ mark: RunMark, on id: RunID, tenant: TenantID) async throws -> Run? {
        try await perform("record a \(mark.kind) on run \(id)") { [self] in
            try await client.withTransaction(logger: logger) { connection -> Run? in
                switch mark {
                case .review(let decision, let by, let at):
                    try await connection.query(
                        """
                        UPDATE ai_runs SET review_state = \(decision.reviewState), reviewed_by = \(by),
                            reviewed_output = \(decision.reviewedOutput?.jsonText)::jsonb, reviewed_at = \(at), updated_at = \(at)
                        WHERE id = \(id.rawValue) AND tenant_id = \(tenant.rawValue)
                        """, logger: logger)
                case .displayed(let by, let at):
                    try await connection.query(
                        """
                        UPDATE ai_runs SET displayed_at = \(at), displayed_by = \(by), updated_at = \(at)
                        WHERE id = \(id.rawValue) AND tenant_id = \(tenant.rawValue)
                        """, logger: logger)
                }
                return try await Self.fetch(connection, "WHERE id = \(id.rawValue) AND tenant_id = \(tenant.rawValue)", logger: logger)
                    .first
            }
        }
    }

    public func events(of id: RunID) async throws -> [RunEvent] {
        try await perform("read events of run \(id)") { [self] in
            let rows = try await client.query(
                "SELECT id, run_id, from_status, to_status, at, actor, kind, details::text FROM ai_run_events WHERE run_id = \(id.rawValue) ORDER BY id",
                logger: logger)
            var events: [RunEvent] = []
            for try await (eventID, runID, from, to, at, actor, kind, details) in rows.decode(
                (Int64, String, String?, String, Date, String, String, String?).self)
            {
                events.append(
                    try StoredEventColumns(
                        id: eventID, runID: runID, fromStatus: from, toStatus: to, at: at, actor: actor, kind: kind, details: details
                    ).event())
            }
            return events
        }
    }

    public func renewLeases(_ ids: [RunID], owner: String, until: Date) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try await perform("renew \(ids.count) leases") { [self] in
            let rows = try await client.query(
                """
                UPDATE ai_runs SET lease_expires_at = \(until),
                    next_poll_at = CASE WHEN status = 'in_progress' THEN \(until) ELSE next_poll_at END
                WHERE id = ANY(\(ids.map(\.rawValue))) AND lease_owner = \(owner) RETURNING id
                """, logger: logger)
            return try await rows.collect().count
        }
    }

    public func changes() -> AsyncStream<Void>? {
        notifications.stream()
    }

}

extension PostgresRunStore {
    /// Runs one SQL statement outside Kiln's own paths: for tests that act as another app.
    public func executeForTests(_ sql: String) async throws {
        try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }
}
