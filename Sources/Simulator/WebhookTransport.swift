import Foundation
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// POSTs webhook messages with Foundation's URLSession (libcurl on Linux), which runs on
/// threads of its own and so never holds the simulator's server or the cooperative pool.
/// The session is made at the first POST: a simulator without webhooks never opens one.
final class WebhookTransport: Sendable {
    private let session = Mutex<URLSession?>(nil)

    /// The status of the answer, or the error (timeout, refused connection…).
    func post(_ url: URL, headers: [(name: String, value: String)], body: Data, timeout: Double) async -> Result<Int, any Error> {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "POST"
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        do {
            let (_, response) = try await currentSession().upload(for: request, from: body)
            return .success((response as? HTTPURLResponse)?.statusCode ?? 0)
        } catch {
            return .failure(error)
        }
    }

    private func currentSession() -> URLSession {
        session.withLock { session in
            if let session { return session }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpMaximumConnectionsPerHost = 64
            configuration.httpShouldSetCookies = false
            configuration.urlCache = nil
            let made = URLSession(configuration: configuration, delegate: RedirectRefusal(), delegateQueue: nil)
            session = made
            return made
        }
    }
}

/// OpenAI does not follow redirects: a 3xx is a failed attempt, so the session must not follow it either.
private final class RedirectRefusal: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
        completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
