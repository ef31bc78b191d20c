import Foundation
import HTTPTypes
import HummingbirdTesting
import KilnDomain
import KilnOperator
import Testing

/// Every page, filter and action of the dashboard over a real database, in-process.
@Suite("Dashboard: pages, filters and actions", .serialized)
struct DashboardTests {
    typealias Backend = DashboardFixture.Backend

    @Test(arguments: Backend.allCases)
    func everyPageAndFilterRendersWhatTheTableHolds(backend: Backend) async throws {
        let f = try await DashboardFixture.make(backend)
        defer { f.shutdown() }
        let ids = f.ids
        try await f.test(f.server()) { client in
            let overview = try await client.get("/")
            #expect(overview.status == .ok)
            #expect(overview.body.contains("in flight"))
            #expect(overview.body.contains("<svg"), "the chart is inline SVG")
            #expect(overview.body.contains("Cost by tenant"))
            // The completed run's 1,234 µ$, summed by the database under its tenant and feature.
            #expect(overview.body.contains("<a href=\"/runs?tenant=acme\">acme</a></td><td>$0.0012</td><td>$0.0012</td><td>$0.0012</td>"))
            #expect(overview.body.contains("<a href=\"/runs?feature=document_summary\">document_summary</a></td><td>$0.0012</td>"))
            #expect(overview.headers[.contentType] == "text/html; charset=utf-8")
            #expect(!overview.body.contains("http://") && !overview.body.contains("https://"), "no external assets")

            let all = try await client.get("/runs")
            for name in ["queued", "failed", "review", "flying", "hostile"] {
                #expect(all.body.contains(ids[name]!.rawValue), "\(name) listed")
            }
            #expect(all.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "a tenant name is escaped")
            #expect(!all.body.contains("<script>alert(1)"), "never raw")

            func only(_ uri: String, _ names: Set<String>) async throws {
                let page = try await client.get(uri)
                #expect(page.status == .ok, "\(uri)")
                for (name, id) in ids { #expect(page.body.contains(id.rawValue) == names.contains(name), "\(uri): \(name)") }
            }
            try await only("/runs?status=failed", ["failed"])
            try await only("/runs?tenant=acme", ["queued", "review", "flying"])
            try await only("/runs?error=http_503", ["failed"])
            try await only("/runs?q=resp_flying", ["flying"])
            try await only("/runs?q=key-queued", ["queued"])
            try await only("/runs?q=\(ids["review"]!.rawValue)", ["review"])
            try await only("/runs?subject=invoice:42", ["queued"])
            try await only("/runs?feature=document_summary&status=in_progress", ["flying"])
            try await only("/runs?from=2000-01-01&to=2000-01-02", [])

            let bad = try await client.get("/runs?status=exploded")
            #expect(bad.status == .badRequest)
            #expect(bad.body.contains("unknown status"))
            #expect(try await client.get("/runs?from=yesterday").body.contains("from must be a date"))

            let failed = try await client.get("/runs/\(ids["failed"]!)")
            #expect(failed.status == .ok)
            #expect(failed.body.contains("http_503") && failed.body.contains("the provider was unavailable"))
            #expect(failed.body.contains("id=\"retry\""), "a failed run offers a retry")
            #expect(failed.body.contains("Events"))
            let review = try await client.get("/runs/\(ids["review"]!)")
            #expect(review.body.contains("A summary of the report.") && review.body.contains("resp_review"))
            #expect(review.body.contains("id=\"accept\"") && review.body.contains("id=\"discard\""))
            #expect(review.body.contains("100 input"))
            #expect(try await client.get("/runs/run_nope").status == .notFound)

            let attention = try await client.get("/attention")
            #expect(attention.status == .ok)
            #expect(attention.body.contains("http_503"), "failures grouped by code")
            #expect(try await client.get("/healthz").body == "ok\n")
            #expect(try await client.get("/readyz").status == .ok)
            let refreshing = try await client.get("/runs?refresh=5")
            #expect(refreshing.body.contains("<meta http-equiv=\"refresh\" content=\"5\">"))
            #expect(refreshing.body.contains("<b>5 s</b>") && refreshing.body.contains("pause"), "live refresh with a pause")
        }
    }

    @Test(arguments: Backend.allCases)
    func pagesFollowOnWithoutOverlap(backend: Backend) async throws {
        let f = try await DashboardFixture.make(backend)
        defer { f.shutdown() }
        let service = RunService(store: f.store, actor: "app")
        for index in 0..<60 {
            _ = try await service.enqueue(
                .init(feature: "document_summary", tenant: TenantID("pages"), input: ["text": .string("P\(index).")]))
        }
        try await f.test(f.server()) { client in
            let first = try await client.get("/runs?tenant=pages")
            let link = try #require(first.body.range(of: "id=\"older\" href=\"")).upperBound
            let href = String(first.body[link...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            let second = try await client.get(href)
            func listed(_ body: String) -> Set<String> {
                Set(body.components(separatedBy: "href=\"/runs/").dropFirst().map { String($0.prefix { $0 != "\"" }) })
            }
            #expect(listed(first.body).count == 50)
            #expect(listed(second.body).count == 10)
            #expect(listed(first.body).isDisjoint(with: listed(second.body)))
        }
    }

    @Test(arguments: Backend.allCases)
    func actionsAreConfirmedEventedAndGuarded(backend: Backend) async throws {
        let f = try await DashboardFixture.make(backend)
        defer { f.shutdown() }
        let ids = f.ids
        let service = RunService(store: f.store, actor: "app")
        var made: [RunID] = []
        for index in 0..<3 {
            made.append(
                try await service.enqueue(
                    .init(feature: "document_summary", tenant: TenantID("bulk"), input: ["text": .string("B\(index)")])
                ).run.id)
        }
        let bulk = made
        try await f.test(f.server()) { client in
            let confirm = try await client.get("/runs/\(ids["queued"]!)/cancel")
            #expect(confirm.body.contains("name=\"csrf\" value=\"token-0123456789\""))
            #expect(confirm.body.contains("id=\"confirm\""))
            // Refused: no token, a wrong one, another site, another origin.
            let uri = "/runs/\(ids["queued"]!)/cancel"
            #expect(try await client.post(uri, form: [:]).status == .forbidden)
            #expect(try await client.post(uri, form: ["csrf": "wrong"]).status == .forbidden)
            #expect(
                try await client.post(uri, form: ["csrf": "token-0123456789"], headers: [HTTPField.Name("Sec-Fetch-Site")!: "cross-site"])
                    .status
                    == .forbidden)
            #expect(
                try await client.post(uri, form: ["csrf": "token-0123456789"], headers: [HTTPField.Name("Origin")!: "https://evil.example"])
                    .status
                    == .forbidden)
            #expect(try await f.store.run(ids["queued"]!, tenant: nil)?.status == .queued, "nothing happened")

            let done = try await client.post(uri, form: ["csrf": "token-0123456789"])
            #expect(done.status == .seeOther)
            let cancelled = try #require(try await f.store.run(ids["queued"]!, tenant: nil))
            #expect(cancelled.status == .cancelled)
            #expect(try await f.store.events(of: cancelled.id).contains { $0.actor == "operator" && $0.kind == "cancel_requested" })

            // An in-flight run is asked to cancel at the provider.
            _ = try await client.post("/runs/\(ids["flying"]!)/cancel", form: ["csrf": "token-0123456789"])
            #expect(try await f.store.run(ids["flying"]!, tenant: nil)?.cancelRequestedAt != nil)

            _ = try await client.post("/runs/\(ids["failed"]!)/retry", form: ["csrf": "token-0123456789"])
            let retried = try #require(try await f.store.run(ids["failed"]!, tenant: nil))
            #expect(retried.status == .queued && retried.attempt == 0 && retried.error == nil)
            #expect(try await f.store.events(of: retried.id).last?.kind == "operator_retried")
            #expect(try await client.post("/runs/\(ids["review"]!)/retry", form: ["csrf": "token-0123456789"]).status == .badRequest)

            _ = try await client.post("/runs/\(ids["review"]!)/accept", form: ["csrf": "token-0123456789"])
            let accepted = try #require(try await f.store.run(ids["review"]!, tenant: nil))
            #expect(accepted.reviewState == "accepted" && accepted.reviewedBy == "operator")

            let bulkConfirm = try await client.get("/cancel?tenant=bulk")
            #expect(bulkConfirm.body.contains("<b id=\"count\">3</b>"))
            let bulkDone = try await client.post("/cancel", form: ["csrf": "token-0123456789", "tenant": "bulk"])
            #expect(bulkDone.body.contains("3 runs cancelled"))
            for id in bulk { #expect(try await f.store.run(id, tenant: nil)?.status == .cancelled) }
            #expect(try await f.store.run(ids["hostile"]!, tenant: nil)?.status == .queued, "other tenants untouched")
        }
    }

    /// A run the batch lane holds shows its batch and where it stands; the overview counts
    /// the batches at work.
    @Test(arguments: Backend.allCases)
    func aRunCarriedByABatchShowsItsBatch(backend: Backend) async throws {
        let f = try await DashboardFixture.make(backend)
        defer { f.shutdown() }
        let lane = try #require(f.store as? any BatchStore)
        let now = Date()
        let claimed = try await f.store.claim(.submission, owner: "w", limit: 10, leaseUntil: now + 60, now: now)
        let run = try #require(claimed.first { $0.id == f.ids["queued"] })
        let joined = try await lane.join(
            [BatchEntry(run: run, lineBytes: 900, promptVersion: "v1")], model: "gpt-5-mini", owner: "w", settings: BatchSettings(),
            now: now)
        #expect(joined == [run.id])
        let batchID = try #require(try await f.store.run(run.id, tenant: nil)?.batchID)
        try await f.test(f.server()) { client in
            let page = try await client.get("/runs/\(run.id.rawValue)")
            #expect(
                page.body.contains("<th scope=\"row\">batch</th><td>\(batchID) — gathering, 1 request for gpt-5-mini, sealed by "),
                "\(page.body)")
            let overview = try await client.get("/")
            #expect(overview.body.contains("batch lane, batches at work: gathering 1"))
        }
    }

    @Test func accessNeedsCredentialsOffLoopbackAndReadOnlyRefusesActions() async throws {
        let f = try await DashboardFixture.make(.sqlite)
        let basic = OperatorAccess(credentials: .basic(user: "ops", password: "s3cret-pass"), readOnly: false)
        try await f.test(f.server(access: basic)) { client in
            let refused = try await client.get("/")
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            #expect(try await client.get("/metrics").status == .unauthorized)
            #expect(
                try await client.get("/runs", headers: [.authorization: "Basic " + Data("ops:wrong".utf8).base64EncodedString()]).status
                    == .unauthorized)
            let good: HTTPFields = [.authorization: "Basic " + Data("ops:s3cret-pass".utf8).base64EncodedString()]
            #expect(try await client.get("/runs", headers: good).status == .ok)
            #expect(try await client.get("/metrics", headers: good).status == .ok)
            #expect(try await client.get("/healthz").status == .ok, "health checks stay open")
            #expect(!(try await client.get("/runs", headers: good).body.contains("s3cret-pass")), "no secret in a page")
        }
        let bearer = OperatorAccess(credentials: .bearer(token: "tok-0123456789abcdef"), readOnly: false)
        try await f.test(f.server(access: bearer)) { client async throws in
            #expect(try await client.get("/").status == .unauthorized)
            #expect(try await client.get("/", headers: [.authorization: "Bearer tok-0123456789abcdef"]).status == .ok)
        }
        let readOnly = OperatorAccess(credentials: .none, readOnly: true, formToken: "token-0123456789")
        try await f.test(f.server(access: readOnly)) { client in
            let detail = try await client.get("/runs/\(f.ids["queued"]!)")
            #expect(detail.body.contains("read-only"))
            #expect(!detail.body.contains("id=\"cancel\""), "no action links")
            #expect(try await client.get("/runs/\(f.ids["queued"]!)/cancel").status == .badRequest)
            #expect(try await client.post("/runs/\(f.ids["queued"]!)/cancel", form: ["csrf": "token-0123456789"]).status == .forbidden)
            #expect(try await f.store.run(f.ids["queued"]!, tenant: nil)?.status == .queued)
        }
        #expect(throws: KilnError.self) { _ = try OperatorAccess.forListener(host: "0.0.0.0", credentials: .none, readOnly: false) }
        #expect(try OperatorAccess.forListener(host: "127.0.0.1", credentials: .none, readOnly: false).readOnly == false)
        #expect(try OperatorAccess.forListener(host: "::1", credentials: .none, readOnly: true).readOnly)
    }
}
