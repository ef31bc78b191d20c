/// One piece of a document cut by ``DocumentSplitter``: `[start, end)` in Unicode scalars of the
/// whole text (what SQL's `length()`/`substr()` count on both SQLite and PostgreSQL), and the
/// same range as string indices.
public struct DocumentChunk: Sendable, Hashable {
    /// 0-based position of the chunk in document order.
    public var index: Int
    /// Unicode scalar offset of the chunk's first scalar in the whole text, inclusive.
    public var start: Int
    /// Unicode scalar offset just past the chunk's last scalar, exclusive.
    public var end: Int
    /// The same span as indices into the text; both ends are `Character` boundaries.
    public var range: Range<String.Index>
}

/// Cuts a long document into chunks that map runs can each summarize.
///
/// One pass over `text.unicodeScalars` (each scalar is looked at most about twice), no copy of
/// the text and no allocation per character: a 50 MB document splits in a fraction of a
/// second. Cuts prefer the natural seams of prose so that no chunk ends mid-sentence when it
/// can be helped, and never split a `Character` (a "\r\n", an emoji sequence, a letter and its
/// combining marks), so every chunk is valid text on its own.
public enum DocumentSplitter {
    /// Cuts `text` into contiguous chunks of at most `maxChars` Unicode scalars each, covering
    /// every scalar exactly once, in order, with no overlap.
    ///
    /// Each cut is made at the last seam before the limit of the first kind that exists in the
    /// second half of the window (not before `start + maxChars / 2`): a paragraph break
    /// ("\n\n", or "\n\r\n"; cut after it), then a line break ("\n"), then a sentence end (`.`,
    /// `!` or `?` followed by whitespace; cut after the whitespace), then any whitespace, else a
    /// hard cut at the limit. A candidate that is not a `Character` boundary moves back to the
    /// previous boundary. A single `Character` longer than `maxChars` (pathological) goes whole
    /// into its chunk: the only case a chunk exceeds `maxChars`. An empty text gives no chunks.
    /// `maxChars` below 100 is treated as 100.
    public static func split(_ text: String, maxChars: Int) -> [DocumentChunk] {
        let maxChars = max(maxChars, 100)
        var chunks: [DocumentChunk] = []
        var start = Position(index: text.unicodeScalars.startIndex, offset: 0)
        while start.index < text.unicodeScalars.endIndex {
            let end = cut(text, from: start, maxChars: maxChars)
            chunks.append(DocumentChunk(index: chunks.count, start: start.offset, end: end.offset, range: start.index..<end.index))
            start = end
        }
        return chunks
    }

    /// A place in the text: a scalar-aligned index and its offset in scalars.
    private struct Position {
        var index: String.Index
        var offset: Int
    }

    /// A cut candidate with what is needed to check it is a `Character` boundary: the scalar
    /// before it and how many regional indicators (flag halves) end there.
    private struct Candidate {
        var position: Position
        var previous: Unicode.Scalar
        var regionalIndicators: Int = 0
    }

    /// The end of the chunk that begins at `start` (a `Character` boundary).
    private static func cut(_ text: String, from start: Position, maxChars: Int) -> Position {
        let scalars = text.unicodeScalars
        let limit = start.offset + maxChars
        let half = start.offset + maxChars / 2
        var paragraph: Candidate?
        var line: Candidate?
        var sentence: Candidate?
        var space: Candidate?
        var index = start.index
        var offset = start.offset
        var previous: Unicode.Scalar = " "
        var beforePrevious: Unicode.Scalar = " "
        var regionalIndicators = 0
        while offset < limit {
            guard index < scalars.endIndex else { return Position(index: index, offset: offset) }
            let scalar = scalars[index]
            scalars.formIndex(after: &index)
            offset += 1
            // Counted from the chunk start, which is a boundary: only the parity matters.
            regionalIndicators = isRegionalIndicator(scalar) ? regionalIndicators + 1 : 0
            if offset >= half, isWhitespace(scalar) {
                let here = Candidate(position: Position(index: index, offset: offset), previous: scalar)
                if scalar == "\n" {
                    if previous == "\n" || (previous == "\r" && beforePrevious == "\n") {
                        paragraph = here
                    } else {
                        line = here
                    }
                } else if previous == "." || previous == "!" || previous == "?" {
                    sentence = here
                }
                space = here
            }
            beforePrevious = previous
            previous = scalar
        }
        if index == scalars.endIndex { return Position(index: index, offset: offset) }
        let hard = Candidate(position: Position(index: index, offset: offset), previous: previous, regionalIndicators: regionalIndicators)
        let chosen = paragraph ?? line ?? sentence ?? space ?? hard
        let end = boundary(atOrBefore: chosen, in: text)
        if end.offset > start.offset { return end }
        // The Character that begins the chunk reaches past the candidate: it goes whole.
        let next = text.index(after: start.index)
        return Position(index: next, offset: start.offset + scalars.distance(from: start.index, to: next))
    }

    /// The last `Character` boundary at or before `candidate`, which is not the end of the text.
    private static func boundary(atOrBefore candidate: Candidate, in text: String) -> Position {
        let scalars = text.unicodeScalars
        let position = candidate.position
        let previous = candidate.previous
        let next = scalars[position.index]
        if previous.value < 0x300 && next.value < 0x300 {
            // The standard library's own fast path: below U+0300 only "\r\n" stays together.
            if previous != "\r" || next != "\n" { return position }
        } else if isRegionalIndicator(previous) && isRegionalIndicator(next) {
            // Flags pair up from the start of a run; asking the library would count the whole
            // run back on every cut, quadratic in a text of nothing but flags.
            if candidate.regionalIndicators % 2 == 0 { return position }
            if candidate.regionalIndicators >= 3 {
                return Position(index: scalars.index(before: position.index), offset: position.offset - 1)
            }
        } else if position.index.samePosition(in: text) != nil {
            return position
        }
        // Character operations round an unaligned index down to its Character's start.
        let rounded = text.index(before: text.index(after: position.index))
        return Position(index: rounded, offset: position.offset - scalars.distance(from: rounded, to: position.index))
    }

    private static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return scalar == " " || (0x09...0x0D).contains(scalar.value) }
        return scalar.properties.isWhitespace
    }

    private static func isRegionalIndicator(_ scalar: Unicode.Scalar) -> Bool {
        (0x1F1E6...0x1F1FF).contains(scalar.value)
    }
}
