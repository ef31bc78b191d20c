import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KilnDomain
import KilnOperator
import KilnPostgres
import KilnSQLite
import KilnTestSupport
import Logging
import NIOCore
import Prometheus
import Testing

/// A real database with runs of several statuses, written as an app and Kiln would write
/// them, and the operator routes over it, called in-process.
struct DashboardFixture {
    enum Backend: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    let store: any RunStore
    let execute: @Sendable (String) async throws -> Void
    let ids: [String: RunID]

    static func make(_ backend: Backend) async throws -> DashboardFixture {
        let store: any RunStore
        let execute: @Sendable (String) async throws -> Void
        switch backend {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-dashboard-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let path = directory.appendingPathComponent("kiln.sqlite").path
            store = try SQLiteRunStore(path: path)
            execute = { sql in
                let queue = try DatabaseQueue(path: path)
                try await queue.write { db in try db.execute(sql: sql) }
            }
        case .postgres:
            let url = try await TestPostgres.freshDatabase()
            store = try PostgresRunStore(url: url)
            execute = { sql in try await TestPostgres.execute(sql, url: url) }
        }
        try await store.migrate()
        let service = RunService(store: store, actor: "app")
        var ids: [String: RunID] = [:]
        func enqueue(_ name: String, tenant: String, subject: Subject? = nil, key: String? = nil) async throws {
            ids[name] =
                try await service.enqueue(
                    .init(
                        feature: "document_summary", tenant: TenantID(tenant), subject: subject,
                        input: ["text": .string("Report \(name).")],
                        idempotencyKey: key)
                ).run.id
        }
        try await enqueue("queued", tenant: "acme", subject: Subject(type: "invoice", id: "42"), key: "key-queued")
        try await enqueue("failed", tenant: "globex")
        try await enqueue("review", tenant: "acme")
        try await enqueue("flying", tenant: "acme")
        try await enqueue("hostile", tenant: "<script>alert(1)</script>")
        let now = Timestamp.format(Date())
        let cast = backend == .postgres ? "::jsonb" : ""
        let time = backend == .postgres ? "::timestamptz" : ""
        try await execute(
            """
            UPDATE ai_runs SET status = 'failed', attempt = 3, finalized_at = '\(now)'\(time),
                error = '{"code":"http_503","message":"the provider was unavailable","source":"provider"}'\(cast)
            WHERE id = '\(ids["failed"]!)'
            """)
        try await execute(
            """
            UPDATE ai_runs SET status = 'completed', attempt = 1, response_id = 'resp_review', finalized_at = '\(now)'\(time),
                submitted_at = '\(now)'\(time), provider_completed_at = '\(now)'\(time), review_state = 'pending',
                output = '{"text":"A summary of the report."}'\(cast), cost_micros = 1234,
                usage = '{"input_tokens":100,"output_tokens":50,"total_tokens":150,"cached_input_tokens":0,"reasoning_tokens":10}'\(cast)
            WHERE id = '\(ids["review"]!)'
            """)
        try await execute(
            """
            UPDATE ai_runs SET status = 'in_progress', attempt = 1, response_id = 'resp_flying', submitted_at = '\(now)'\(time),
                next_poll_at = '\(now)'\(time) WHERE id = '\(ids["flying"]!)'
            """)
        return DashboardFixture(store: store, execute: execute, ids: ids)
    }

    func server(
        access: OperatorAccess = OperatorAccess(credentials: .none, readOnly: false, formToken: "token-0123456789")
    ) -> OperatorServer {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return OperatorServer(
            store: store, configuration: KilnConfiguration(), access: access,
            metrics: MetricsExporter(store: store, registry: PrometheusCollectorRegistry()), logger: logger)
    }

    /// Calls the routes in-process.
    func test<T>(_ server: OperatorServer, _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let router = Router()
        server.add(to: router)
        return try await Application(router: router).test(.router, body)
    }

    func shutdown() {
        (store as? PostgresRunStore)?.shutdown()
    }
}

/// A response's status and body text.
struct Page: Sendable {
    let status: HTTPResponse.Status
    let body: String
    let headers: HTTPFields
}

extension TestClientProtocol {
    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> Page {
        try await execute(uri: uri, method: .get, headers: headers) { response in
            Page(status: response.status, body: String(buffer: response.body), headers: response.headers)
        }
    }

    /// A form POST as a browser on the same origin sends it (unless `headers` say otherwise).
    func post(_ uri: String, form: [String: String], headers: HTTPFields? = nil) async throws -> Page {
        var fields = headers ?? [HTTPField.Name("Sec-Fetch-Site")!: "same-origin"]
        fields[.contentType] = "application/x-www-form-urlencoded"
        let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(
            separator: "&")
        return try await execute(uri: uri, method: .post, headers: fields, body: ByteBuffer(string: body)) { response in
            Page(status: response.status, body: String(buffer: response.body), headers: response.headers)
        }
    }
}
