import Foundation

/// The application's door to Kiln: enqueue a run, read it back, cancel it.
///
/// Business policy stays in the application: call this *after* your own authorization,
/// quota and feature-flag checks. Kiln validates only what it needs to execute (a known
/// feature, an input the feature accepts, a policy within bounds) and refuses the rest at
/// enqueue, so the submitter never discovers a bad run later. Every read is scoped by tenant.
public struct RunService: Sendable {
    public let store: any RunStore
    public let features: FeatureCatalog
    public let policyDefaults: RunPolicy
    public let limits: InputLimits
    /// Written as the actor of events this facade causes.
    public let actor: String
    /// When given, a long document over its policy's cost cap is refused at enqueue with the
    /// tree's estimate (the submitter refuses it anyway before cutting it).
    public let tree: DocumentTree?

    public init(
        store: any RunStore, features: FeatureCatalog = .builtIn, policyDefaults: RunPolicy = RunPolicy(),
        limits: InputLimits = InputLimits(), actor: String = "app", tree: DocumentTree? = nil
    ) {
        self.store = store
        self.features = features
        self.policyDefaults = policyDefaults
        self.limits = limits
        self.actor = actor
        self.tree = tree
    }

    /// What the application asks for.
    public struct Request: Sendable {
        public var feature: String
        public var tenant: TenantID
        public var user: String?
        public var subject: Subject?
        public var input: JSONValue
        public var policy: JSONValue
        public var idempotencyKey: String?

        public init(
            feature: String, tenant: TenantID, user: String? = nil, subject: Subject? = nil, input: JSONValue,
            policy: JSONValue = .object([:]), idempotencyKey: String? = nil
        ) {
            self.feature = feature
            self.tenant = tenant
            self.user = user
            self.subject = subject
            self.input = input
            self.policy = policy
            self.idempotencyKey = idempotencyKey
        }
    }

    /// Validates and stores a new run; the same tenant and idempotency key return the
    /// existing run and write nothing (`InsertOutcome.existing`).
    public func enqueue(_ request: Request, now: Date = Date()) async throws -> InsertOutcome {
        try Self.checkText(request.tenant.rawValue, "tenant", max: 128)
        if let user = request.user { try Self.checkText(user, "user", max: 128) }
        if let key = request.idempotencyKey { try Self.checkText(key, "idempotency key", max: 255) }
        if let subject = request.subject {
            try Self.checkText(subject.type, "subject type", max: 64)
            try Self.checkText(subject.id, "subject id", max: 128)
        }
        let feature = try features.feature(named: request.feature)
        try feature.validate(input: request.input, limits: limits)
        let policy = try features.policy(feature: feature.name, overrides: request.policy, defaults: policyDefaults)
        if let tree, let cap = policy.maxCostMicros, feature is DocumentSummary, DocumentSummary.isLong(request.input, limits: limits),
            let characters = request.input["text"]?.stringValue?.unicodeScalars.count
        {
            let chunks = (characters + tree.settings.chunkChars - 1) / tree.settings.chunkChars
            let estimate = tree.estimate(characters: characters, chunks: chunks, policy: policy)
            if let cost = estimate.costMicros, cost > cap {
                throw KilnError(
                    .overBudget,
                    "document_summary input.text (\(characters) characters, at least \(chunks) chunks) is estimated at \(cost) micro-dollars; policy.max_cost_micros is \(cap)"
                )
            }
        }
        var run = Run(
            id: RunID.make(at: now), tenantID: request.tenant, userID: request.user, feature: feature.name,
            subject: request.subject, idempotencyKey: request.idempotencyKey, input: request.input,
            policy: policy.json, createdAt: now)
        run.promptVersion = feature.promptVersion
        let event = RunEvent(
            runID: run.id, fromStatus: nil, toStatus: .queued, at: now, actor: actor, kind: "enqueued")
        return try await store.insert(run, event: event)
    }

    /// The tenant's run, or `not_found` (also for another tenant's run).
    public func run(_ id: RunID, tenant: TenantID) async throws -> Run {
        guard let run = try await store.run(id, tenant: tenant) else {
            throw KilnError(.notFound, "run \(id.rawValue.prefix(64)) not found for tenant \(tenant.rawValue.prefix(64))")
        }
        return run
    }

    /// What a long document's children are doing, per level, for a run read with ``run(_:tenant:)``
    /// (so scoped to its tenant, and not read again); nil for a run that is not a tree parent.
    public func treeProgress(of parent: Run) async throws -> TreeProgress? {
        guard parent.isTreeParent else { return nil }
        return try await store.treeProgress(of: parent.id)
    }

    /// Retries a failed long document's failed children only: the finished ones are kept
    /// (nothing is paid twice) and the tree goes on from the level where it stopped.
    /// Returns the parent and how many children were queued again.
    ///
    /// Refused (``KilnError/Code/conflict``) when retrying cannot help: a parent that did not
    /// fail because of a child (`tree_not_shrinking`, `tree_too_deep`, `over_budget`…), or one
    /// whose tree's deadline has passed (enqueue the document again).
    public func retryFailedChildren(_ id: RunID, tenant: TenantID, now: Date = Date()) async throws -> (run: Run, children: Int) {
        let parent = try await run(id, tenant: tenant)
        guard parent.isTreeParent, parent.status == .failed else {
            throw KilnError(
                .conflict, "run \(id) is not a failed long-document parent (status \(parent.status.rawValue)); nothing to retry")
        }
        guard parent.erasedAt == nil else {
            throw KilnError(.conflict, "run \(id) was erased; there is nothing left to summarize")
        }
        guard parent.error?.code == "child_failed" else {
            throw KilnError(
                .conflict,
                "run \(id) failed with \(parent.error?.code ?? "?"), not because of a child; retrying its children cannot help")
        }
        let cut = try await store.events(of: id).last { $0.kind == "expanded" }
        if let deadline = DocumentTree.recordedDeadline(cut), now >= deadline {
            throw KilnError(
                .conflict, "run \(id): the document's deadline passed at \(Timestamp.format(deadline)); enqueue it again")
        }
        guard let (run, children) = try await store.retryFailedChildren(of: id, tenant: tenant, actor: actor, now: now) else {
            throw KilnError(.notFound, "run \(id.rawValue.prefix(64)) not found for tenant \(tenant.rawValue.prefix(64))")
        }
        return (run, children)
    }

    /// Tokens and cost per feature, model and UTC day, from `since` on: the numbers an app needs
    /// for its own quota checks and invoices (all tenants when `tenant` is nil). Pruning runs
    /// does not change them.
    public func spend(tenant: TenantID?, feature: String? = nil, since: Date) async throws -> [SpendRow] {
        try await store.spend(SpendQuery(tenant: tenant, feature: feature, since: since))
    }

    /// Right to erasure: erases the input and output of the tenant's finished runs (of one
    /// subject, or all), leaving tombstones (ids, times, usage, cost) and `erased` events, and
    /// schedules their responses for deletion at the provider. Runs not finished are counted,
    /// not touched: cancel them, or erase again once they ended.
    public func erase(tenant: TenantID, subject: Subject? = nil, now: Date = Date()) async throws -> ErasureOutcome {
        try Self.checkText(tenant.rawValue, "tenant", max: 128)
        return try await store.erase(tenant: tenant, subject: subject, actor: actor, now: now)
    }

    /// Sets a tenant's own limits (`kiln_tenant_quotas`), which override the `quotas`
    /// configuration key by key (a nil key keeps the configured one); nil or empty removes them.
    /// The tenant's held runs are looked at again at once.
    public func setQuota(tenant: TenantID, _ limits: QuotaLimits?, now: Date = Date()) async throws {
        try Self.checkText(tenant.rawValue, "tenant", max: 128)
        if let limits {
            do throws(KilnError) {
                try limits.validate("quota")
            } catch {
                throw KilnError(.invalidArgument, error.message)
            }
        }
        try await store.setTenantQuota(tenant, limits, now: now)
    }

    /// Tenants' own limits: one tenant's, or every tenant's (nil).
    public func quotas(tenant: TenantID? = nil) async throws -> [TenantID: QuotaLimits] {
        try await store.tenantQuotas(tenant)
    }

    /// Runs, newest first.
    public func list(_ query: RunQuery) async throws -> [Run] {
        try await store.runs(matching: query)
    }

    /// Asks for a run to stop. A queued run is cancelled at once; an in-flight run gets
    /// `cancel_requested_at`, which its poller carries out at the provider; a finished run
    /// is returned unchanged.
    public func cancel(_ id: RunID, tenant: TenantID, now: Date = Date()) async throws -> Run {
        guard var run = try await store.requestCancellation(id, tenant: tenant, actor: actor, now: now) else {
            throw KilnError(.notFound, "run \(id.rawValue.prefix(64)) not found for tenant \(tenant.rawValue.prefix(64))")
        }
        if run.status == .queued,
            let update = RunUpdate.make(.cancelBeforeSubmission, on: run, at: now, actor: actor),
            try await store.save(update)
        {
            run = update.run
        } else if run.status == .queued {
            // A submitter claimed it in between; it will see cancel_requested_at.
            run = try await self.run(id, tenant: tenant)
        }
        return run
    }

    /// An operator's retry of a failed run (a long document:
    /// ``retryFailedChildren(of:tenant:now:)``): queued again with its attempts reset and an
    /// `operator_retried` event; the cost it ran up is kept in `orphan_cost_micros`. Refused once
    /// its deadline (from `created_at`) has passed: it would time out before it was sent.
    public func retry(_ id: RunID, tenant: TenantID, now: Date = Date()) async throws -> Run {
        let current = try await run(id, tenant: tenant)
        if let policy = try? features.policy(feature: current.feature, overrides: current.policy, defaults: policyDefaults),
            current.deadline(policy) <= now
        {
            throw KilnError(
                .conflict,
                "run \(id.rawValue.prefix(64))'s deadline passed at \(Timestamp.format(current.deadline(policy))); a retry would time out before it was sent (enqueue a new run)"
            )
        }
        guard let run = try await store.retryRun(id, tenant: tenant, actor: actor, now: now) else {
            throw KilnError(.notFound, "run \(id.rawValue.prefix(64)) not found for tenant \(tenant.rawValue.prefix(64))")
        }
        return run
    }

    /// Records a person's decision on a completed run: `accept`, `edit` (the edit kept beside
    /// the model's output; JSON that satisfies the feature's schema when it has one, text
    /// otherwise) or `discard`, by `user` (default: this facade's actor). Refused with
    /// `conflict` on a run that is not completed or already decided; evented by the table.
    public func review(
        _ id: RunID, tenant: TenantID, _ decision: ReviewDecision, by user: String? = nil, now: Date = Date()
    ) async throws -> Run {
        let by = user ?? actor
        try Self.checkText(by, "reviewer", max: 128)
        let run = try await self.run(id, tenant: tenant)
        let name = "run \(id.rawValue.prefix(64))"
        guard run.status == .completed else {
            throw KilnError(.conflict, "\(name) is \(run.status.rawValue); only a completed run can be reviewed")
        }
        if let state = run.reviewState, ReviewDecision.finalStates.contains(state) {
            throw KilnError(
                .conflict, "\(name) was already \(state) by \(run.reviewedBy?.prefix(64) ?? "someone"); a review decision is final")
        }
        if case .edit(let edited) = decision {
            let schema = (try? features.feature(named: run.feature))?.outputSchema
            switch (edited, schema) {
            case (.json(let value), let schema?):
                let violations = schema.violations(of: value)
                guard violations.isEmpty else {
                    throw KilnError(
                        .invalidArgument,
                        "the edited JSON does not match \(run.feature)'s output schema: " + violations.joined(separator: "; "))
                }
            case (.text, _?):
                throw KilnError(.invalidArgument, "\(run.feature) has an output schema: an edit must be JSON (--json)")
            case (.json, nil):
                throw KilnError(.invalidArgument, "\(run.feature) outputs text: an edit must be text (--text)")
            case (.text(let text), nil):
                if text.isEmpty || text.count > 1_000_000 {
                    throw KilnError(.invalidArgument, "the edited text must be 1–1000000 characters")
                }
            }
        }
        guard let reviewed = try await store.record(.review(decision, by: by, at: now), on: id, tenant: tenant) else {
            throw KilnError(.notFound, "\(name) not found for tenant \(tenant.rawValue.prefix(64))")
        }
        return reviewed
    }

    /// Records that the run's result was shown to `user` (default: this facade's actor).
    public func markDisplayed(_ id: RunID, tenant: TenantID, by user: String? = nil, now: Date = Date()) async throws -> Run {
        let by = user ?? actor
        try Self.checkText(by, "viewer", max: 128)
        let run = try await self.run(id, tenant: tenant)
        guard run.status == .completed else {
            throw KilnError(.conflict, "run \(id.rawValue.prefix(64)) is \(run.status.rawValue); only a completed run can be displayed")
        }
        guard let shown = try await store.record(.displayed(by: by, at: now), on: id, tenant: tenant) else {
            throw KilnError(.notFound, "run \(id.rawValue.prefix(64)) not found for tenant \(tenant.rawValue.prefix(64))")
        }
        return shown
    }

    public func summary() async throws -> RunSummary {
        try await store.summary()
    }

    private static func checkText(_ value: String, _ what: String, max: Int) throws(KilnError) {
        if value.isEmpty || value.count > max || value.contains(where: { $0.isNewline || $0 == "\0" }) {
            throw KilnError(.invalidArgument, "\(what) must be 1–\(max) characters on one line, got \"\(value.prefix(40))\"")
        }
    }
}
