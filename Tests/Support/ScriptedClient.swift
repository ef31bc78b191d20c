import Foundation
import KilnDomain
import Synchronization

/// A `ResponsesClient` whose answers a test writes: each call is recorded and answered by
/// the test's function for it. With ``InMemoryRunStore`` it lets submitter and poller
/// behaviour be tested with no network and no sleeps; the provider's real wire format is
/// tested against the simulator and the spec elsewhere.
public final class ScriptedClient: ResponsesClient {
    public enum Call: Sendable, Hashable {
        case create(runID: String, attempt: String)
        case retrieve(ResponseID)
        case cancel(ResponseID)
        case delete(ResponseID)
    }

    public typealias Answer = @Sendable (Call) -> Result<ProviderResponse, ProviderError>

    private let answer: Answer
    private let log = Mutex<[Call]>([])

    public init(_ answer: @escaping Answer) {
        self.answer = answer
    }

    /// Every call so far, in order.
    public var calls: [Call] { log.withLock { $0 } }

    public func create(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResponse {
        try respond(.create(runID: request.metadata["kiln_run_id"] ?? "", attempt: request.metadata["kiln_attempt"] ?? ""))
    }

    public func retrieve(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse { try respond(.retrieve(id)) }
    public func cancel(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse { try respond(.cancel(id)) }
    public func delete(_ id: ResponseID) async throws(ProviderError) { _ = try respond(.delete(id)) }

    private func respond(_ call: Call) throws(ProviderError) -> ProviderResponse {
        log.withLock { $0.append(call) }
        return try answer(call).get()
    }
}

/// A clock a test sets by hand, and dice that always roll the same.
public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: Double) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}
