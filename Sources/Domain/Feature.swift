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

/// Size limits on what an application may enqueue.
public struct InputLimits: Sendable, Hashable {
    /// Largest document text, in characters (`limits.max_input_chars`).
    public var maxInputChars: Int

    public init(maxInputChars: Int = 200_000) {
        self.maxInputChars = maxInputChars
    }
}

/// What a feature asks the model to do; the provider client turns it into a create body.
public struct GenerationRequest: Sendable, Hashable {
    public var model: String
    public var instructions: String
    public var input: String
    public var maxOutputTokens: Int
    public var completionWindow: RunPolicy.CompletionWindow?

    public init(
        model: String, instructions: String, input: String, maxOutputTokens: Int,
        completionWindow: RunPolicy.CompletionWindow?
    ) {
        self.model = model
        self.instructions = instructions
        self.input = input
        self.maxOutputTokens = maxOutputTokens
        self.completionWindow = completionWindow
    }
}

/// The features a Kiln deployment knows, by name.
public struct FeatureCatalog: Sendable {
    private var features: [String: any Feature]

    public init(_ features: [any Feature]) {
        self.features = Dictionary(features.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
    }

    /// The features Kiln ships: `document_summary`.
    public static let builtIn = FeatureCatalog([DocumentSummary()])

    public var names: [String] { features.keys.sorted() }

    /// The feature called `name`, or an error listing the known ones.
    public func feature(named name: String) throws(KilnError) -> any Feature {
        guard let feature = features[name] else {
            throw KilnError(
                .unknownFeature,
                "unknown feature \"\(name.prefix(64))\"; known features: \(names.joined(separator: ", "))")
        }
        return feature
    }
}
