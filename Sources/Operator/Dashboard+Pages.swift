import Foundation
import Hummingbird
import KilnDomain

/// The dashboard's pages.
extension OperatorServer {
    func refresh(_ parameters: [String: String]) -> Int {
        min(3600, max(0, Int(parameters["refresh"] ?? "") ?? 0))
    }

    func overview(_ request: Request) async throws -> Response {
        let parameters = Self.parameters(request)
        let now = Date()
        let summary = try await views.summary.get()
        let live = try await views.live.get()
        let hours = try await views.activity.get()
        let byTenant = try await views.spendByTenant.get()
        let byFeature = try await views.spendByFeature.get()
        var body = "<section class=\"cards\">"
        for status in RunStatus.allCases {
            let count = summary.counts[status.rawValue] ?? 0
            body += "<a class=\"card\" href=\"/runs?status=\(status.rawValue)\"><b>\(count)</b>\(HTML.status(status.rawValue))</a>"
        }
        body += "</section><section class=\"cards\">"
        body += "<div class=\"card\"><b>\(summary.inFlight)</b>in flight</div>"
        body += "<div class=\"card\"><b>\(live.oldestQueuedAt.map { HTML.age(now.timeIntervalSince($0)) } ?? "–")</b>oldest queued</div>"
        body +=
            "<div class=\"card\"><b>\(live.oldestInFlightSince.map { HTML.age(now.timeIntervalSince($0)) } ?? "–")</b>longest in flight</div>"
        body += "<div class=\"card\"><b>\(HTML.dollars(summary.costMicros))</b>cost so far</div>"
        body += "<a class=\"card\" href=\"/attention\"><b>\(summary.possibleDuplicates)</b>possible duplicates</a>"
        body += "<a class=\"card\" href=\"/attention\"><b>\(summary.waiting.values.reduce(0, +))</b>held by a limit</a>"
        body += "</section>"
        if summary.childCounts.values.contains(where: { $0 > 0 }) {
            let parts = RunStatus.allCases.compactMap { status in summary.childCounts[status.rawValue].map { "\(status.rawValue) \($0)" } }
            body += "<p class=\"muted\">long documents' children (counted apart): \(HTML.h(parts.joined(separator: ", ")))</p>"
        }
        if summary.batches.values.contains(where: { $0 > 0 }) {
            body += "<p class=\"muted\">batch lane, batches at work: \(HTML.h(summary.batchesText))</p>"
        }
        body += "<h2>Last 24 hours</h2>" + HTML.activityChart(hours, since: DashboardData.chartStart(now), now: now)
        let failures = hours.reduce(0) { $0 + $1.failed }
        let finished = hours.reduce(0) { $0 + $1.completed + $1.failed + $1.other }
        body += "<p>\(finished) runs ended, \(failures) failed.</p>"
        body += "<h2>Cost by tenant</h2>" + spendTable(byTenant, name: "tenant")
        body += "<h2>Cost by feature</h2>" + spendTable(byFeature, name: "feature")
        return html(
            HTML.page(
                title: "Overview", path: "/", query: [("refresh", parameters["refresh"])], refresh: refresh(parameters),
                readOnly: access.readOnly, body: body))
    }

    /// The 50 that spent most over 30 days (summed by the database).
    private func spendTable(_ totals: [SpendTotal], name: String) -> String {
        HTML.table(
            [name, "today", "7 days", "30 days", "runs (30 d)"],
            totals.map { total in
                [
                    "<a href=\"/runs?\(name)=\(HTML.q(total.key))\">\(HTML.h(total.key))</a>", HTML.dollars(total.todayMicros),
                    HTML.dollars(total.weekMicros), HTML.dollars(total.monthMicros), "\(total.runs)",
                ]
            }, empty: "no spend in the last 30 days")
    }

    /// The runs filter of a request's query (also what a bulk cancel acts on).
    static func runQuery(_ parameters: [String: String], limit: Int) throws(KilnError) -> RunQuery {
        func value(_ key: String) -> String? { parameters[key].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } }
        var query = RunQuery(limit: limit, withoutInput: true)
        if let status = value("status") {
            guard let parsed = RunStatus(rawValue: status) else {
                throw KilnError(.invalidArgument, "unknown status \"\(status.prefix(40))\"")
            }
            query.status = parsed
        }
        query.tenant = value("tenant").map(TenantID.init)
        query.feature = value("feature")
        if let subject = value("subject") { query.subject = try Subject(parsing: subject) }
        query.errorCode = value("error")
        func moment(_ key: String) throws(KilnError) -> Date? {
            guard let text = value(key) else { return nil }
            if let date = Timestamp.parse(text) ?? Timestamp.parse(text + "T00:00:00Z") { return date }
            throw KilnError(.invalidArgument, "\(key) must be a date (2026-11-30) or a timestamp, got \"\(text.prefix(40))\"")
        }
        query.createdFrom = try moment("from")
        query.createdBefore = try moment("to")
        query.search = value("q")
        query.includeChildren = value("children") == "1"
        if let after = value("after") {
            let parts = after.split(separator: "|", maxSplits: 1).map(String.init)
            guard parts.count == 2, let at = Timestamp.parse(parts[0]) else {
                throw KilnError(.invalidArgument, "after must be TIMESTAMP|RUN_ID")
            }
            query.after = (at, RunID(parts[1]))
        }
        return query
    }

    static let filterKeys = ["status", "tenant", "feature", "subject", "error", "from", "to", "q", "children"]

    func runs(_ request: Request) async throws -> Response {
        let parameters = Self.parameters(request)
        let pageSize = 50
        let query = try Self.runQuery(parameters, limit: pageSize)
        let runs = try await store.runs(matching: query)
        let filters = Self.filterKeys.map { ($0, parameters[$0]) }
        func field(_ key: String, _ label: String, _ placeholder: String) -> String {
            "<label>\(label)<input name=\"\(key)\" value=\"\(HTML.h(parameters[key] ?? ""))\" placeholder=\"\(placeholder)\"></label>"
        }
        let statuses = ([""] + RunStatus.allCases.map(\.rawValue)).map { status in
            "<option value=\"\(status)\"\(parameters["status"] == status ? " selected" : "")>\(status.isEmpty ? "any" : status)</option>"
        }.joined()
        var body = """
            <form class="filters" method="get" action="/runs">
            <label>status<select name="status">\(statuses)</select></label>
            \(field("tenant", "tenant", "acme"))\(field("feature", "feature", "document_summary"))\(field("subject", "subject", "TYPE:ID"))
            \(field("error", "error code", "http_503"))\(field("from", "created from", "2026-11-01"))\(field("to", "created before", "2026-12-01"))
            \(field("q", "run id, response id or idempotency key", "run_…"))
            <label>children<input type="checkbox" name="children" value="1"\(parameters["children"] == "1" ? " checked" : "")></label>
            <button class="go" type="submit">Filter</button></form>
            """
        let rows = runs.map { run -> [String] in
            [
                "<a href=\"/runs/\(HTML.q(run.id.rawValue))\">\(HTML.h(run.id.rawValue))</a>", HTML.h(run.tenantID.rawValue),
                HTML.h(run.feature),
                HTML.status(run.status.rawValue) + (run.waitReason.map { " <span class=\"muted\">\(HTML.h($0))</span>" } ?? ""),
                "\(run.attempt)", HTML.dollars((run.costMicros ?? 0) + run.orphanCostMicros), HTML.h(run.error?.code ?? ""),
                HTML.time(run.createdAt),
            ]
        }
        body += HTML.table(["run", "tenant", "feature", "status", "attempt", "cost", "error", "created"], rows, empty: "no runs match")
        if runs.count == pageSize, let last = runs.last {
            let next = filters + [("after", "\(Timestamp.format(last.createdAt))|\(last.id.rawValue)"), ("refresh", parameters["refresh"])]
            body += "<p><a id=\"older\" href=\"/runs\(HTML.h(HTML.query(next)))\">Older →</a></p>"
        }
        if !access.readOnly, !runs.isEmpty, !(query.status?.isTerminal ?? false) {
            body += "<p><a href=\"/cancel\(HTML.h(HTML.query(filters)))\">Cancel every unfinished run matching this filter…</a></p>"
        }
        return html(
            HTML.page(
                title: "Runs", path: "/runs", query: filters + [("after", parameters["after"])], refresh: refresh(parameters),
                readOnly: access.readOnly, body: body))
    }

    func attention(_ request: Request) async throws -> Response {
        let parameters = Self.parameters(request)
        let attention = try await views.attention.get()
        let now = Date()
        func link(_ id: RunID) -> String { "<a href=\"/runs/\(HTML.q(id.rawValue))\">\(HTML.h(id.rawValue))</a>" }
        func list(_ runs: [Run], _ extra: (Run) -> String) -> String {
            HTML.table(
                ["run", "tenant", "feature", "status", ""],
                runs.map { [link($0.id), HTML.h($0.tenantID.rawValue), HTML.h($0.feature), HTML.status($0.status.rawValue), extra($0)] })
        }
        var body = "<h2>Failures of the last 7 days by code</h2>"
        body += HTML.table(
            ["error code", "runs"],
            attention.failuresByCode.map {
                ["<a href=\"/runs?status=failed&amp;error=\(HTML.q($0.code))\">\(HTML.h($0.code))</a>", "\($0.count)"]
            })
        body += "<h2>Possible duplicates</h2><p class=\"muted\">a create may have reached the provider twice (see each run's events)</p>"
        body += HTML.table(["run"], attention.possibleDuplicates.map { [link($0)] })
        body += "<h2>Orphan responses</h2><p class=\"muted\">responses a run did not use, which ran and cost</p>"
        body += HTML.table(["run"], attention.orphans.map { [link($0)] })
        body += "<h2>Stuck</h2><p class=\"muted\">a submission whose lease ran out, or a poll overdue by more than 5 minutes</p>"
        body += list(attention.stuck) { run in
            run.status == .submitting ? "lease ran out \(HTML.time(run.leaseExpiresAt))" : "poll due since \(HTML.time(run.nextPollAt))"
        }
        body += "<h2>Near their deadline</h2>"
        let near = attention.nearDeadline.filter { deadline(of: $0, events: []) < now.addingTimeInterval(900) }
        body += "<p class=\"muted\">unfinished runs whose deadline comes within 15 minutes (a long document's parent: see its page)</p>"
        body += list(near) { run in
            let left = deadline(of: run, events: []).timeIntervalSince(now)
            return left < 0 ? "deadline passed \(HTML.age(-left)) ago" : "deadline in \(HTML.age(left))"
        }
        body += "<h2>Waiting on a limit or budget</h2>"
        body += list(attention.waiting) { run in HTML.h(run.waitReason ?? "") + ", looked at again \(HTML.time(run.availableAt))" }
        return html(
            HTML.page(
                title: "Needs attention", path: "/attention", query: [("refresh", parameters["refresh"])], refresh: refresh(parameters),
                readOnly: access.readOnly, body: body))
    }
}
