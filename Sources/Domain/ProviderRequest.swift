import Foundation

/// One create call: the feature's request, plus how Kiln sends it.
public struct ProviderRequest: Sendable, Hashable {
    public var generation: GenerationRequest
    /// `true` for every Kiln run; `false` only for the blocking baseline of the benchmarks.
    public var background: Bool
    /// Traces a provider response back to its run (`kiln_run_id`, `kiln_attempt`); no personal data.
    public var metadata: [String: String]

    public init(generation: GenerationRequest, background: Bool = true, metadata: [String: String]) {
        self.generation = generation
        self.background = background
        self.metadata = metadata
    }

    /// The metadata Kiln sends for `run` at `attempt`.
    public static func metadata(run: RunID, attempt: Int) -> [String: String] {
        ["kiln_run_id": run.rawValue, "kiln_attempt": String(attempt)]
    }
}
