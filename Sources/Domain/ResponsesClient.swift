import Foundation

/// The provider, as the submitter and poller see it: OpenAI's Responses API in background
/// mode, or any server that speaks it.
///
/// Implementations never retry a create on their own: once a create request has left, a
/// timeout or a dropped connection is *ambiguous* (the provider may have started a paid
/// response) and only the caller, with the run record in hand, decides what to do.
/// Retrieve and cancel are safe to retry and may be retried inside.
public protocol ResponsesClient: Sendable {
    func create(_ request: ProviderRequest) async throws(ProviderError) -> ProviderResponse
    func retrieve(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse
    func cancel(_ id: ResponseID) async throws(ProviderError) -> ProviderResponse
    func delete(_ id: ResponseID) async throws(ProviderError)
}
