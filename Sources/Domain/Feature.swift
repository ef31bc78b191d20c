/// A kind of generation the application offers (`document_summary`, …): it validates a
/// run's input at enqueue and builds the provider request when the run is submitted.
///
/// A feature lives next to its domain logic; the version it records on the run
/// (`prompt_version`) says which request builder produced the request. A Swift app
/// conforms its own types; an app in any other language declares a ``DeclaredFeature``
/// in the configuration and builds its prompt itself.
public protocol Feature: Sendable {
    /// The `feature` column value.
    var name: String { get }
    /// Recorded on the run when its request is built.
    var promptVersion: String { get }
    /// Policy keys (a JSON object, the keys of `policy`) this feature sets over the
    /// configured defaults; a run's own `policy` still wins.
    var policyOverrides: JSONValue { get }
    /// The JSON Schema the output must satisfy, or nil for text.
    var outputSchema: OutputSchema? { get }
    /// Refuses input this feature cannot work with; the message names the key.
    func validate(input: JSONValue, limits: InputLimits) throws(KilnError)
    /// The request for a validated input under `policy`.
    func request(for input: JSONValue, policy: RunPolicy) throws(KilnError) -> GenerationRequest
}

extension Feature {
    public var policyOverrides: JSONValue { .object([:]) }
    public var outputSchema: OutputSchema? { nil }

    /// The `text.format` this feature asks for: its schema under its name, or text.
    public var outputFormat: GenerationRequest.OutputFormat {
        outputSchema.map { .jsonSchema(name: name, schema: $0) } ?? .text
    }
}
