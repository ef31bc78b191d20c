/// Why a run did not complete: the `error` column.
public struct RunFailure: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Codable {
        /// The provider reported it (a failed response, an HTTP error).
        case provider
        /// Kiln decided it (attempts exhausted, deadline, lost response).
        case kiln
        /// The run's own policy or input refused it.
        case policy
    }

    public var code: String
    public var message: String
    public var source: Source

    public init(code: String, message: String, source: Source) {
        self.code = code
        self.message = message
        self.source = source
    }
}
