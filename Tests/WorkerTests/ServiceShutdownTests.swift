import Foundation
import KilnDomain
import KilnPostgres
import KilnTestSupport
import KilnWorker
import Logging
import ServiceLifecycle
import Testing

/// The PostgreSQL store and the forwarding of its `LISTEN` notifications run as services of
/// the worker's group and end with it, instead of as tasks nobody stops.
@Suite("PostgreSQL store and wake-ups as services")
struct ServiceShutdownTests {
    @Test func theStoreAndItsChangeForwarderEndWithTheirGroup() async throws {
        let url = try await TestPostgres.freshDatabase()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let store = try PostgresRunStore(url: url, logger: logger)
        try await store.migrate()
        let changes = try #require(store.changes())
        let wakeup = Wakeup()
        let group = ServiceGroup(services: [store, ChangeForwarder(changes: changes, wakeups: [wakeup])], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // A notification reaches the wake-up while the group runs.
            var woken = false
            for _ in 0..<20 where !woken {
                try await TestPostgres.execute(
                    "INSERT INTO ai_runs (id, tenant_id, feature, input) VALUES ('run_\(UUID().uuidString.prefix(8))', 't', 'document_summary', '{\"text\":\"x\"}')",
                    url: url)
                woken = await ContinuousClock().measure { await wakeup.wait(seconds: 2) } < .seconds(1)
            }
            #expect(woken, "an insert from another connection woke the worker")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()  // both services returned: the group ended
        }
        // The pool was closed with the group: the store no longer answers.
        await #expect(throws: KilnError.self) { _ = try await store.summary() }
    }
}
