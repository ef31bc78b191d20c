import Foundation
import KilnDomain
import Testing

/// Every column a store writes comes back as written, under its own name; and a row it
/// cannot read is reported, never read as a default.
@Suite("RunStore round trips")
struct RoundTripTests {
    /// A distinct whole-millisecond time for each column, so two swapped columns cannot pass.
    static func time(_ n: Int) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + Double(n) * 1000 + 0.125) }

    /// A run with every field set to something other than its default.
    static func populated() -> (inserted: Run, full: Run) {
        var run = Run(
            id: RunID("run_roundtrip_every_column"), tenantID: TenantID("tenant-7"), userID: "user-9", feature: "document_summary",
            idempotencyKey: "key-1", input: ["text": "A document.", "length": "short"], policy: ["model": "gpt-5", "max_attempts": 2],
            createdAt: time(1))
        run.subject = Subject(type: "document", id: "doc-3")
        run.promptVersion = "document_summary/v1"
        run.availableAt = time(2)
        run.updatedAt = time(3)
        let inserted = run
        run.status = .inProgress
        run.attempt = 2
        run.responseID = ResponseID("resp_roundtrip")
        run.providerStatus = "in_progress"
        run.output = RunOutput(text: "A summary.", refusal: "no", incompleteReason: "max_output_tokens", truncatedChars: 4)
        run.error = RunFailure(code: "server_error", message: "It failed once.", source: .provider)
        run.usage = RunUsage(inputTokens: 10, outputTokens: 20, totalTokens: 30, cachedInputTokens: 5, reasoningTokens: 7)
        run.costMicros = 4321
        run.pollCount = 6
        run.nextPollAt = time(4)
        run.availableAt = time(5)
        run.leaseOwner = "host:42"
        run.leaseExpiresAt = time(6)
        run.reviewState = "pending"
        run.promptVersion = "document_summary/v2"
        run.sendStartedAt = time(7)
        run.submittedAt = time(8)
        run.providerCompletedAt = time(9)
        run.finalizedAt = time(10)
        run.updatedAt = time(11)
        run.cancelRequestedAt = time(12)
        return (inserted, run)
    }

    @Test(arguments: StoreKind.allCases)
    func aRunWithEveryColumnSetComesBackExactly(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let (inserted, full) = Self.populated()
        let event = RunEvent(runID: inserted.id, fromStatus: nil, toStatus: .queued, at: Self.time(1), actor: "app", kind: "enqueued")
        #expect(try await f.store.insert(inserted, event: event).run == inserted)
        // The application's half (its cancel request), then Kiln's half in one guarded write.
        _ = try await f.store.requestCancellation(inserted.id, tenant: inserted.tenantID, actor: "app", now: Self.time(12))
        #expect(try await f.store.save(RunUpdate(run: full, expectedStatus: .queued, expectedLeaseOwner: nil, event: nil)))

        let read = try #require(try await f.other.run(full.id, tenant: full.tenantID))
        #expect(read == full)
        #expect(try await f.other.runs(matching: RunQuery(tenant: full.tenantID)) == [full])
    }

    @Test(arguments: StoreKind.sqlBackends)
    func anEventWithAnUnknownStatusIsReportedNotReadAsQueued(kind: StoreKind) async throws {
        let f = try await kind.makeStores()
        let run = try await RunService(store: f.store, actor: "test").enqueue(
            .init(feature: "document_summary", tenant: TenantID("t1"), input: ["text": "x"])
        ).run
        try await f.executeSQL(
            "INSERT INTO ai_run_events (run_id, to_status, actor, kind) VALUES ('\(run.id.rawValue)', 'done', 'app', 'custom')")
        await #expect {
            _ = try await f.store.events(of: run.id)
        } throws: { error in
            let message = (error as? KilnError)?.message ?? ""
            return message.contains("unknown status \"done\"") && message.contains(run.id.rawValue)
        }
    }

    @Test func anEventWithAnUnreadableTimeIsReportedNotReadAs1970() async throws {
        let f = try await StoreKind.sqlite.makeStores()
        let run = try await RunService(store: f.store, actor: "test").enqueue(
            .init(feature: "document_summary", tenant: TenantID("t1"), input: ["text": "x"])
        ).run
        try await f.executeSQL(
            "INSERT INTO ai_run_events (run_id, to_status, at, actor, kind) VALUES ('\(run.id.rawValue)', 'queued', 'yesterday', 'app', 'x')"
        )
        await #expect {
            _ = try await f.store.events(of: run.id)
        } throws: { error in
            (error as? KilnError)?.message.contains("unreadable time \"yesterday\"") == true
        }
    }
}
