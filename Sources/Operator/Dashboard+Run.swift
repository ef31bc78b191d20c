import Foundation
import Hummingbird
import KilnDomain

/// A run's page, and the actions on runs: each confirmed on a page of its own, posted with the
/// form token, carried out through ``RunService`` with the operator as the events' actor.
extension OperatorServer {
    var service: RunService {
        RunService(
            store: store, features: configuration.features, policyDefaults: configuration.policy, limits: configuration.limits,
            actor: access.actor)
    }

    func find(_ id: String) async throws -> Run {
        guard let run = try await store.run(RunID(id), tenant: nil) else {
            throw KilnError(.notFound, "run \(id.prefix(64)) not found")
        }
        return run
    }

    func detail(_ request: Request, id: String) async throws -> Response {
        let parameters = Self.parameters(request)
        let run = try await find(id)
        let events = try await store.events(of: run.id)
        func row(_ name: String, _ value: String) -> [String] { [HTML.h(name), value] }
        var rows: [[String]] = [
            row("status", HTML.status(run.status.rawValue) + (run.waitReason.map { " waiting: \(HTML.h($0))" } ?? "")),
            row("tenant", "<a href=\"/runs?tenant=\(HTML.q(run.tenantID.rawValue))\">\(HTML.h(run.tenantID.rawValue))</a>"),
            row("feature", HTML.h(run.feature)), row("attempt", "\(run.attempt)"),
            row("created", HTML.time(run.createdAt)), row("submitted", HTML.time(run.submittedAt)),
            row("provider finished", HTML.time(run.providerCompletedAt)), row("finalized", HTML.time(run.finalizedAt)),
            row("deadline", HTML.time(deadline(of: run, events: events))),
        ]
        if let subject = run.subject { rows.append(row("subject", HTML.h("\(subject.type):\(subject.id)"))) }
        if let batchID = run.batchID { rows.append(row("batch", try await batchText(batchID))) }
        if let key = run.idempotencyKey { rows.append(row("idempotency key", HTML.h(key))) }
        if let parent = run.parentRunID {
            rows.append(
                row(
                    "parent",
                    "<a href=\"/runs/\(HTML.q(parent.rawValue))\">\(HTML.h(parent.rawValue))</a> (level \(run.level ?? 0), part \((run.chunkIndex ?? 0) + 1))"
                ))
        }
        if let usage = run.usage {
            rows.append(
                row(
                    "usage",
                    "\(usage.inputTokens) input (\(usage.cachedInputTokens) cached), \(usage.outputTokens) output (\(usage.reasoningTokens) reasoning)"
                ))
        }
        rows.append(
            row(
                "cost",
                HTML.dollars(run.costMicros ?? 0) + (run.orphanCostMicros > 0 ? " + orphans \(HTML.dollars(run.orphanCostMicros))" : "")))
        if let error = run.error {
            rows.append(row("error", "\(HTML.h(error.code)) (\(HTML.h(error.source.rawValue))): \(HTML.h(error.message))"))
        }
        if let state = run.reviewState { rows.append(row("review", HTML.h(state + (run.reviewedBy.map { " by \($0)" } ?? "")))) }
        if let cancel = run.cancelRequestedAt { rows.append(row("cancel requested", HTML.time(cancel))) }
        if let erased = run.erasedAt { rows.append(row("erased", HTML.time(erased))) }
        var body = HTML.fields(rows)
        body += actions(for: run)
        // Every response id the run's record knows: its own, and those its events name (duplicates, orphans).
        var responses: [(String, String)] = run.responseID.map { [($0.rawValue, "the run's")] } ?? []
        for event in events {
            for key in ["response_id", "orphan_response_id", "previous_response_id"] {
                if let id = event.details[key]?.stringValue, !responses.contains(where: { $0.0 == id }) {
                    responses.append((id, event.kind))
                }
            }
        }
        body +=
            "<h2>Responses</h2>" + HTML.table(["response id", "from"], responses.map { [HTML.h($0.0), HTML.h($0.1)] }, empty: "none yet")
        if run.isTreeParent {
            let progress = try await store.treeProgress(of: run.id)
            body += "<h2>Long document</h2><pre>\(HTML.h(progress.lines.joined(separator: "\n")))</pre>"
            let children = try await store.treeChildren(of: run.id, level: nil).prefix(200)
            body += HTML.table(
                ["child", "level", "part", "status", "characters"],
                children.map { child in
                    [
                        "<a href=\"/runs/\(HTML.q(child.id.rawValue))\">\(HTML.h(child.id.rawValue))</a>", "\(child.level)",
                        "\(child.chunkIndex + 1)",
                        HTML.status(child.status.rawValue), "\(child.charStart)–\(child.charEnd)",
                    ]
                })
        }
        if let output = run.output {
            body += "<h2>Output</h2>"
            if let json = output.json { body += "<pre>\(HTML.h(json.jsonText))</pre>" } else { body += "<pre>\(HTML.h(output.text))</pre>" }
            if let refusal = output.refusal { body += "<p>refusal: \(HTML.h(refusal))</p>" }
        }
        if let reviewed = run.reviewedOutput { body += "<h2>Reviewed output</h2><pre>\(HTML.h(reviewed.jsonText))</pre>" }
        body += "<h2>Events</h2>"
        body += HTML.table(
            ["at", "", "kind", "by", "details"],
            events.map { event in
                [
                    HTML.time(event.at), HTML.h("\(event.fromStatus?.rawValue ?? "–") → \(event.toStatus.rawValue)"), HTML.h(event.kind),
                    HTML.h(event.actor), "<code>\(HTML.h(event.details.jsonText))</code>",
                ]
            })
        return html(
            HTML.page(
                title: "Run \(run.id.rawValue)", path: "/runs/\(run.id.rawValue)", query: [("refresh", parameters["refresh"])],
                refresh: refresh(parameters), readOnly: access.readOnly, body: body))
    }

    /// The batch lane's batch that carries (or carried) a run: where it stands, and the
    /// provider's batch once there is one; just its id once retention pruned it.
    private func batchText(_ id: String) async throws -> String {
        guard let lane = store as? any BatchStore, let batch = try await lane.batch(id) else { return HTML.h(id) }
        var parts = [batch.state.rawValue, "\(batch.requestCount) request\(batch.requestCount == 1 ? "" : "s") for \(batch.model)"]
        if let provider = batch.providerBatchID { parts.append("provider batch \(provider) (\(batch.providerStatus ?? "?"))") }
        if batch.state == .gathering { parts.append("sealed by \(Timestamp.format(batch.dueAt))") }
        if let error = batch.error { parts.append(error) }
        return HTML.h(id) + " — " + HTML.h(parts.joined(separator: ", "))
    }

    /// When the run's deadline passes, as the worker enforces it: a long document's parent, the
    /// deadline recorded when it was cut; any other run, `created_at` + its resolved policy's
    /// `deadline_seconds` (configured defaults and the feature's policy applied).
    func deadline(of run: Run, events: [RunEvent]) -> Date {
        if run.isTreeParent, let recorded = events.last(where: { $0.kind == "expanded" })?.details["deadline"]?.stringValue,
            let date = Timestamp.parse(recorded)
        {
            return date
        }
        let policy = try? configuration.features.policy(feature: run.feature, overrides: run.policy, defaults: configuration.policy)
        return run.createdAt.addingTimeInterval(Double(policy?.deadlineSeconds ?? configuration.policy.deadlineSeconds))
    }

    /// The actions a run allows now, each a link to its confirmation.
    func actions(for run: Run) -> String {
        guard !access.readOnly else { return "" }
        var links: [String] = []
        let base = "/runs/\(HTML.q(run.id.rawValue))"
        if !run.status.isTerminal, run.cancelRequestedAt == nil { links.append("<a id=\"cancel\" href=\"\(base)/cancel\">Cancel…</a>") }
        if run.status == .failed, run.parentRunID == nil, run.level == nil, deadline(of: run, events: []) > Date() {
            links.append("<a id=\"retry\" href=\"\(base)/retry\">Retry…</a>")
        }
        if run.reviewState == "pending" {
            links.append("<a id=\"accept\" href=\"\(base)/accept\">Accept…</a>")
            links.append("<a id=\"discard\" href=\"\(base)/discard\">Discard…</a>")
        }
        return links.isEmpty ? "" : "<p>" + links.joined(separator: " · ") + "</p>"
    }

    static let actions: [String: (verb: String, explain: String)] = [
        "cancel": (
            "Cancel", "A queued run is cancelled at once; an in-flight run is cancelled at the provider by its poller (no more spend)."
        ),
        "retry": (
            "Retry",
            "The run is queued again with its attempts reset (its deadline still counts from its creation); what it cost so far is kept as orphan cost."
        ),
        "accept": ("Accept", "Records the review decision accept (final)."),
        "discard": ("Discard", "Records the review decision discard (final)."),
    ]

    func confirm(_ request: Request, id: String, action: String) async throws -> Response {
        guard let (verb, explain) = Self.actions[action] else { throw KilnError(.notFound, "no action \(action.prefix(40))") }
        let run = try await find(id)
        guard !access.readOnly else { throw KilnError(.invalidArgument, "the dashboard is read-only") }
        let body = """
            <p>\(HTML.h(verb)) run <a href="/runs/\(HTML.q(run.id.rawValue))">\(HTML.h(run.id.rawValue))</a> of tenant \(HTML.h(run.tenantID.rawValue)) \
            (\(HTML.h(run.feature)), \(HTML.status(run.status.rawValue)))?</p><p class="muted">\(HTML.h(explain)) Recorded as \(HTML.h(access.actor)).</p>
            <form method="post" action="/runs/\(HTML.q(run.id.rawValue))/\(action)">
            <input type="hidden" name="csrf" value="\(access.formToken)">
            <button id="confirm" class="danger" type="submit">\(HTML.h(verb))</button> <a href="/runs/\(HTML.q(run.id.rawValue))">Back</a></form>
            """
        return html(HTML.page(title: "\(verb) run?", path: "", query: [], refresh: 0, readOnly: access.readOnly, body: body))
    }

    func act(_ request: Request, id: String, action: String, form: [String: String]) async throws -> Response {
        let run = try await find(id)
        switch action {
        case "cancel": _ = try await service.cancel(run.id, tenant: run.tenantID)
        case "retry": _ = try await service.retry(run.id, tenant: run.tenantID)
        case "accept": _ = try await service.review(run.id, tenant: run.tenantID, .accept, by: access.actor)
        case "discard": _ = try await service.review(run.id, tenant: run.tenantID, .discard, by: access.actor)
        default: throw KilnError(.notFound, "no action \(action.prefix(40))")
        }
        logger.notice("dashboard action", metadata: ["action": "\(action)", "run_id": "\(run.id)", "actor": "\(access.actor)"])
        return Self.redirect("/runs/\(HTML.q(run.id.rawValue))")
    }

    /// The unfinished runs a filter matches, up to `limit`.
    func unfinished(_ parameters: [String: String], limit: Int) async throws -> [Run] {
        var query = try Self.runQuery(parameters, limit: limit)
        let statuses: [RunStatus] = query.status.map { $0.isTerminal ? [] : [$0] } ?? [.queued, .submitting, .inProgress]
        var runs: [Run] = []
        for status in statuses where runs.count < limit {
            query.status = status
            query.limit = limit - runs.count
            runs += try await store.runs(matching: query).filter { $0.cancelRequestedAt == nil }
        }
        return runs
    }

    func confirmBulkCancel(_ request: Request) async throws -> Response {
        let parameters = Self.parameters(request)
        guard !access.readOnly else { throw KilnError(.invalidArgument, "the dashboard is read-only") }
        let matching = try await unfinished(parameters, limit: Self.bulkLimit + 1)
        let filters = Self.filterKeys.compactMap { key in parameters[key].map { (key, $0) } }.filter { !$0.1.isEmpty }
        let hidden = filters.map { "<input type=\"hidden\" name=\"\(HTML.h($0.0))\" value=\"\(HTML.h($0.1))\">" }.joined()
        let described = filters.isEmpty ? "every run" : filters.map { "\($0.0) = \($0.1)" }.joined(separator: ", ")
        let count = matching.count > Self.bulkLimit ? "more than \(Self.bulkLimit)" : "\(matching.count)"
        let body = """
            <p>Cancel <b id="count">\(count)</b> unfinished runs matching \(HTML.h(described))?</p>
            <p class="muted">At most \(Self.bulkLimit) runs per confirmation, in batches of \(Self.bulkBatch); in-flight runs are cancelled \
            at the provider by their pollers. Recorded as \(HTML.h(access.actor)).</p>
            <form method="post" action="/cancel"><input type="hidden" name="csrf" value="\(access.formToken)">\(hidden)
            <button id="confirm" class="danger" type="submit"\(matching.isEmpty ? " disabled" : "")>Cancel them</button> \
            <a href="/runs\(HTML.h(HTML.query(filters.map { ($0.0, Optional($0.1)) })))">Back</a></form>
            """
        return html(HTML.page(title: "Cancel matching runs?", path: "", query: [], refresh: 0, readOnly: access.readOnly, body: body))
    }

    func bulkCancel(_ form: [String: String]) async throws -> Response {
        var cancelled = 0
        while cancelled < Self.bulkLimit {
            let batch = try await unfinished(form, limit: min(Self.bulkBatch, Self.bulkLimit - cancelled))
            if batch.isEmpty { break }
            for run in batch { _ = try await service.cancel(run.id, tenant: run.tenantID) }
            cancelled += batch.count
            await Task.yield()
        }
        logger.notice("dashboard bulk cancel", metadata: ["runs": "\(cancelled)", "actor": "\(access.actor)"])
        let filters = Self.filterKeys.compactMap { key in form[key].map { (key, Optional($0)) } }
        let body =
            "<p class=\"notice\" id=\"done\">\(cancelled) runs cancelled (or asked to cancel at the provider).</p>"
            + "<p><a href=\"/runs\(HTML.h(HTML.query(filters)))\">Back to the runs</a></p>"
        return html(HTML.page(title: "Cancelled", path: "", query: [], refresh: 0, readOnly: access.readOnly, body: body))
    }
}
