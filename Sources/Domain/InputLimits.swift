/// Size limits on what an application may enqueue.
public struct InputLimits: Sendable, Hashable {
    /// Largest text one request carries, in characters (`limits.max_input_chars`). A
    /// `document_summary` text above it is summarized as a tree of child runs (``DocumentTree``).
    public var maxInputChars: Int
    /// Largest `document_summary` text, in Unicode scalars (`limits.max_document_chars`).
    public var maxDocumentChars: Int

    public init(maxInputChars: Int = 200_000, maxDocumentChars: Int = 60_000_000) {
        self.maxInputChars = maxInputChars
        self.maxDocumentChars = maxDocumentChars
    }
}
