/// Size limits on what an application may enqueue.
public struct InputLimits: Sendable, Hashable {
    /// Largest document text, in characters (`limits.max_input_chars`).
    public var maxInputChars: Int

    public init(maxInputChars: Int = 200_000) {
        self.maxInputChars = maxInputChars
    }
}
