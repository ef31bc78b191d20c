import Foundation
import KilnDomain

extension RunStore {
    /// A new run taken through enqueue, claim and accept as a submitter would: in flight with
    /// `response`, first polled at `firstPollAt`.
    public func inFlightRun(response: String, tenant: String = "t1", firstPollAt: Date, now: Date) async throws -> Run {
        let run = try await RunService(store: self, actor: "test").enqueue(
            RunService.Request(feature: "document_summary", tenant: TenantID(tenant), input: ["text": "Doc."]), now: now
        ).run
        let claimed = try await claim(.submission, owner: "s", limit: 100, leaseUntil: now + 60, now: now).first { $0.id == run.id }
        guard let claimed,
            let accept = RunUpdate.make(
                .accept(responseID: ResponseID(response), providerStatus: "queued", firstPollAt: firstPollAt), on: claimed, at: now,
                actor: "s"),
            try await save(accept)
        else { throw KilnError(.conflict, "run \(run.id) could not be put in flight") }
        return accept.run
    }
}
