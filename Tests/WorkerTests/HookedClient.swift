import Foundation
import KilnDomain

/// The real client, with a step of the test's own after a create or a retrieve has been
/// answered (to lock the database at that moment, or to hold the answer back as a slow
/// network would). The provider calls themselves are real HTTP to the simulator.
struct HookedClient: ResponsesClient {
    let base: any ResponsesClient
    var afterCreate: @Sendable (ProviderRequest, ProviderResponse) async throws -> Void = { _, _ in }
    var afterRetrieve: @Sendable (ProviderResponse) async throws -> Void = { _ in }

    func create(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResponse {
        let response = try await base.create(request)
        do {
            try await afterCreate(request, response)
        } catch {
            // As an HTTP client whose request was cancelled before the answer was read: the
            // provider may have acted on it.
            throw ProviderError(kind: .ambiguous, code: "cancelled", message: "the create was cancelled before its answer was read")
        }
        return response
    }

    func retrieve(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse {
        let response = try await base.retrieve(id)
        do {
            try await afterRetrieve(response)
        } catch {
            throw ProviderError(kind: .retryable, code: "cancelled", message: "the retrieve was cancelled before its answer was read")
        }
        return response
    }

    func cancel(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse { try await base.cancel(id) }
    func delete(_ id: ResponseID) async throws(ProviderError) { try await base.delete(id) }
}
