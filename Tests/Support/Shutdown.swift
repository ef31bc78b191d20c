/// `body`'s result, after every one of `shutdowns` has run, however `body` ends. For clients
/// that must be shut down before they are released (an `HTTPResponsesClient`): AsyncHTTPClient's
/// `HTTPClient` traps when one is not, which aborts the whole test process and hides the failure
/// that threw. Pass the clients' `shutdown` methods: `try await withShutdown([client.shutdown]) { … }`.
///
/// When `body` throws, its error is the one thrown (a shutdown's own is dropped); when a shutdown
/// throws after `body` returned, the others still run and that error is thrown.
public func withShutdown<T: Sendable>(_ shutdowns: [() async throws -> Void], _ body: () async throws -> T) async throws -> T {
    do {
        let value = try await body()
        for shutdown in shutdowns { try await shutdown() }
        return value
    } catch {
        // A client already shut down above only answers "already shut down" here.
        for shutdown in shutdowns { try? await shutdown() }
        throw error
    }
}
