import Foundation
import HTTPTypes
import Hummingbird
import KilnDomain
import Logging
import NIOCore

/// Kiln's HTTP face for operators, on the same listener as the webhook receiver:
/// `GET /healthz`, `GET /readyz`, `GET /metrics`, and the dashboard (`/`, `/runs`,
/// `/runs/{id}`, `/attention`) with its confirmed actions (see ``OperatorAccess``).
public struct OperatorServer: Sendable {
    public let store: any RunStore
    public let configuration: KilnConfiguration
    public let access: OperatorAccess
    public let metrics: MetricsExporter
    public let logger: Logger
    let views: DashboardData

    public init(store: any RunStore, configuration: KilnConfiguration, access: OperatorAccess, metrics: MetricsExporter, logger: Logger) {
        self.store = store
        self.configuration = configuration
        self.access = access
        self.metrics = metrics
        self.logger = logger
        self.views = DashboardData(store: store, metrics: metrics)
    }

    /// Most runs one bulk cancel acts on (in batches of ``bulkBatch``), as Oban Web and River UI cap theirs.
    public static let bulkLimit = 1_000
    static let bulkBatch = 100

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/healthz") { _, _ in Self.text("ok\n") }
        router.get("/readyz") { _, _ -> Response in
            do {
                try await store.migrate()  // reachable, and the tables are at this build's contract version
                return Self.text("ready\n")
            } catch {
                logger.warning("not ready", metadata: ["error": "\(String(describing: error).prefix(200))"])
                return Self.text("not ready\n", status: .serviceUnavailable)
            }
        }
        router.get("/metrics") { request, _ -> Response in
            if let refused = refuse(request) { return refused }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: try await metrics.render())))
        }
        router.get("/") { request, _ in try await guarded(request) { try await overview(request) } }
        router.get("/runs") { request, _ in try await guarded(request) { try await runs(request) } }
        router.get("/attention") { request, _ in try await guarded(request) { try await attention(request) } }
        router.get("/runs/:id") { request, context in
            try await guarded(request) { try await detail(request, id: context.parameters.get("id") ?? "") }
        }
        router.get("/runs/:id/:action") { request, context in
            try await guarded(request) {
                try await confirm(request, id: context.parameters.get("id") ?? "", action: context.parameters.get("action") ?? "")
            }
        }
        router.post("/runs/:id/:action") { request, context in
            try await guarded(request) {
                let form = try await Self.form(request)
                if let refused = refusePost(request, form: form) { return refused }
                return try await act(
                    request, id: context.parameters.get("id") ?? "", action: context.parameters.get("action") ?? "", form: form)
            }
        }
        router.get("/cancel") { request, _ in try await guarded(request) { try await confirmBulkCancel(request) } }
        router.post("/cancel") { request, _ in
            try await guarded(request) {
                let form = try await Self.form(request)
                if let refused = refusePost(request, form: form) { return refused }
                return try await bulkCancel(form)
            }
        }
    }

    /// The page, or 401 without the credentials; an error becomes a page that names it.
    func guarded(_ request: Request, _ page: () async throws -> Response) async throws -> Response {
        if let refused = refuse(request) { return refused }
        do {
            return try await page()
        } catch let error as KilnError {
            let status: HTTPResponse.Status =
                switch error.code {
                case .notFound: .notFound
                case .invalidArgument, .conflict: .badRequest
                default: .internalServerError
                }
            return html(
                HTML.page(
                    title: "Error", path: "", query: [], refresh: 0, readOnly: access.readOnly,
                    body: "<p class=\"notice\">\(HTML.h(error.message))</p>"), status: status)
        }
    }

    func refuse(_ request: Request) -> Response? {
        guard !access.allows(authorization: request.headers[.authorization]) else { return nil }
        var headers = HTTPFields()
        headers[.wwwAuthenticate] = access.challenge
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "credentials required\n")))
    }

    func refusePost(_ request: Request, form: [String: String]) -> Response? {
        let fetchSite = HTTPField.Name("Sec-Fetch-Site").flatMap { request.headers[$0] }
        let origin = HTTPField.Name("Origin").flatMap { request.headers[$0] }
        guard let reason = access.refusal(formToken: form["csrf"], origin: origin, host: request.head.authority, fetchSite: fetchSite)
        else {
            return nil
        }
        logger.warning("dashboard action refused", metadata: ["reason": "\(reason)"])
        return Self.text("refused: \(reason)\n", status: .forbidden)
    }

    func html(_ page: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page)))
    }

    static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// An `application/x-www-form-urlencoded` body (at most 64 KiB).
    static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        return Self.decodeQuery(String(buffer: buffer))
    }

    static func decodeQuery(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ") }
            guard let key = parts.first?.removingPercentEncoding else { continue }
            fields[key] = (parts.count > 1 ? parts[1] : "").removingPercentEncoding ?? ""
        }
        return fields
    }

    static func parameters(_ request: Request) -> [String: String] {
        decodeQuery(request.uri.query ?? "")
    }
}
