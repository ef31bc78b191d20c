/// A kind of generation the application offers (`document_summary`, …): it validates a
/// run's input at enqueue and builds the provider request when the run is submitted.
///
/// A feature lives next to its domain logic; the version it records on the run
/// (`prompt_version`) says which request builder produced the request.
public protocol Feature: Sendable {
    /// The `feature` column value.
    var name: String { get }
    /// Recorded on the run when its request is built.
    var promptVersion: String { get }
    /// Refuses input this feature cannot work with; the message names the key.
    func validate(input: JSONValue, limits: InputLimits) throws(KilnError)
    /// The request for a validated input under `policy`.
    func request(for input: JSONValue, policy: RunPolicy) throws(KilnError) -> GenerationRequest
}
