import KilnDomain
import Testing

@Suite("Document splitter")
struct DocumentSplitterTests {
    /// A 64-bit LCG (Knuth's MMIX constants): the same texts on every run of the suite.
    struct Draws {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    func filler(_ count: Int) -> String {
        String(repeating: "x", count: count)
    }

    func chunkTexts(_ chunks: [DocumentChunk], of text: String) -> [String] {
        chunks.map { String(text[$0.range]) }
    }

    /// What every split promises: chunks in order, covering every scalar once, offsets that agree
    /// with the indices, `Character` boundaries only, and at most `maxChars` each (unless nil).
    func expectWellFormed(
        _ chunks: [DocumentChunk], of text: String, maxChars: Int?, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let scalars = text.unicodeScalars
        #expect(chunks.map(\.index) == Array(chunks.indices), sourceLocation: sourceLocation)
        #expect(chunkTexts(chunks, of: text).joined() == text, "the chunks put back together are the text", sourceLocation: sourceLocation)
        #expect(chunks.first?.range.lowerBound ?? text.startIndex == text.startIndex, sourceLocation: sourceLocation)
        #expect(chunks.last?.range.upperBound ?? text.endIndex == text.endIndex, sourceLocation: sourceLocation)
        #expect(chunks.last?.end ?? 0 == scalars.count, sourceLocation: sourceLocation)
        for (before, after) in zip(chunks, chunks.dropFirst()) {
            #expect(before.end == after.start && before.range.upperBound == after.range.lowerBound, sourceLocation: sourceLocation)
        }
        for chunk in chunks {
            #expect(chunk.start == scalars.distance(from: scalars.startIndex, to: chunk.range.lowerBound), sourceLocation: sourceLocation)
            #expect(chunk.end == scalars.distance(from: scalars.startIndex, to: chunk.range.upperBound), sourceLocation: sourceLocation)
            #expect(chunk.start < chunk.end, "no empty chunk", sourceLocation: sourceLocation)
            #expect(
                chunk.range.lowerBound.samePosition(in: text) != nil, "chunk \(chunk.index) starts on a Character boundary",
                sourceLocation: sourceLocation)
            if let maxChars { #expect(chunk.end - chunk.start <= maxChars, "chunk \(chunk.index)", sourceLocation: sourceLocation) }
        }
        let characters = chunks.reduce(0) { $0 + text[$1.range].count }
        #expect(characters == text.count, "no Character is cut in two", sourceLocation: sourceLocation)
    }

    @Test func aShortTextIsOneChunkAndAnEmptyTextNone() {
        let text = "Kiln fires the clay."
        let chunks = DocumentSplitter.split(text, maxChars: 100)
        #expect(chunks.count == 1)
        #expect(chunks.first?.start == 0 && chunks.first?.end == 20)
        #expect(chunks.first?.range == text.startIndex..<text.endIndex)
        #expect(DocumentSplitter.split("", maxChars: 100).isEmpty)
        #expect(DocumentSplitter.split(filler(100), maxChars: 100).count == 1, "exactly maxChars fits")
        #expect(DocumentSplitter.split(filler(101), maxChars: 100).map(\.end) == [100, 101])
    }

    @Test func aParagraphBreakInTheSecondHalfWinsOverLaterLinesSentencesAndSpaces() {
        let text = filler(58) + "\n\n" + filler(15) + "\n" + filler(5) + ". " + filler(5) + " " + filler(200)
        let chunks = DocumentSplitter.split(text, maxChars: 100)
        #expect(chunks.first?.end == 60, "cut after the \"\\n\\n\"")
        expectWellFormed(chunks, of: text, maxChars: 100)
        let early = filler(10) + "\n\n" + filler(60) + "\n" + filler(200)
        #expect(DocumentSplitter.split(early, maxChars: 100).first?.end == 73, "a paragraph break in the first half is too early")
        let crlf = filler(56) + "\r\n\r\n" + filler(20) + "\r\n" + filler(200)
        #expect(DocumentSplitter.split(crlf, maxChars: 100).first?.end == 60, "\"\\r\\n\\r\\n\" is a paragraph break too")
    }

    @Test func aLineBreakWinsOverALaterSentenceEnd() {
        let text = filler(59) + "\n" + filler(20) + "! " + filler(10) + " " + filler(200)
        let chunks = DocumentSplitter.split(text, maxChars: 100)
        #expect(chunks.first?.end == 60)
        expectWellFormed(chunks, of: text, maxChars: 100)
    }

    @Test func aSentenceEndWinsOverALaterSpace() {
        let text = filler(60) + "? " + filler(10) + "e.g." + filler(5) + " " + filler(200)
        let chunks = DocumentSplitter.split(text, maxChars: 100)
        #expect(chunks.first?.end == 62, "cut after the whitespace; \"e.g.\" without a space is no sentence end")
        expectWellFormed(chunks, of: text, maxChars: 100)
    }

    @Test func aSpaceWinsOverAHardCutAndTextWithoutSpacesIsCutHard() {
        let text = filler(70) + " " + filler(300)
        let chunks = DocumentSplitter.split(text, maxChars: 100)
        #expect(chunks.map(\.end) == [71, 171, 271, 371])
        expectWellFormed(chunks, of: text, maxChars: 100)
        let kanji = String(repeating: "日本語", count: 100)
        #expect(DocumentSplitter.split(kanji, maxChars: 100).map(\.end) == [100, 200, 300], "counted in scalars, not UTF-8 bytes")
    }

    /// Each text puts a multi-scalar `Character` where the naive cut would fall: a hard cut at
    /// 100, or for `" \u{301}"` a cut after the space, which the combining mark belongs to.
    @Test(arguments: [
        (99, "\r\n"), (99, "🇫🇷"), (97, "👨‍👩‍👧‍👦"), (99, "e\u{301}"), (80, " \u{301}"),
    ])
    func aCutThatWouldSplitACharacterMovesBeforeIt(at offset: Int, piece: String) {
        let text = filler(offset) + piece + filler(200)
        let chunks = DocumentSplitter.split(text, maxChars: 100)
        #expect(chunks.first?.end == offset)
        #expect(chunkTexts(chunks, of: text).dropFirst().first?.hasPrefix(piece) == true)
        expectWellFormed(chunks, of: text, maxChars: 100)
    }

    @Test func aRunOfFlagsIsCutBetweenFlags() {
        let text = String(repeating: "🇫🇷", count: 300)
        let chunks = DocumentSplitter.split(text, maxChars: 101)
        #expect(chunks.count == 6)
        #expect(chunks.allSatisfy { $0.start % 2 == 0 && $0.end - $0.start == 100 })
        expectWellFormed(chunks, of: text, maxChars: 101)
    }

    @Test func aCharacterLongerThanMaxCharsGoesWholeIntoItsChunk() {
        let text = "ab e" + String(repeating: "\u{301}", count: 300) + " cd"
        let chunks = DocumentSplitter.split(text, maxChars: 100)
        #expect(chunks.map { $0.end - $0.start } == [3, 301, 3])
        expectWellFormed(chunks, of: text, maxChars: nil)
    }

    /// A few hundred texts of words, seams and multi-scalar Characters: every split covers its
    /// text, stays within the limit, and cuts no chunk but the last shorter than half of it
    /// (less the one scalar a "\r" can move a cut back).
    @Test func randomTextsAreCoveredAndBounded() {
        let pieces = [
            "kiln", "clay", "a", " ", " ", "\n", "\n\n", ". ", "! ", "\r\n", "\t", "🇫🇷", "👨‍👩‍👧‍👦", "e\u{301}", "ü", "日本",
        ]
        var draws = Draws(state: 2_026)
        for round in 0..<300 {
            let maxChars = 100 + draws.next(300)
            let text = (0..<draws.next(1_500)).map { _ in pieces[draws.next(pieces.count)] }.joined()
            let chunks = DocumentSplitter.split(text, maxChars: maxChars)
            expectWellFormed(chunks, of: text, maxChars: maxChars)
            for chunk in chunks.dropLast() {
                #expect(chunk.end - chunk.start >= maxChars / 2 - 1, "round \(round): chunk \(chunk.index) of a \(maxChars) window")
            }
        }
    }
}
