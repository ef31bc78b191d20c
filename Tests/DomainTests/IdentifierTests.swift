import Foundation
import KilnDomain
import Testing

@Suite("Ids and timestamps")
struct IdentifierTests {
    @Test func runIDsSortByCreationTime() {
        let earlier = RunID.make(at: Date(timeIntervalSince1970: 1_800_000_000))
        let later = RunID.make(at: Date(timeIntervalSince1970: 1_800_000_000.002))
        #expect(earlier < later)
        #expect(earlier.rawValue.hasPrefix("run_"))
        #expect(earlier.rawValue.count == 30)
        #expect(RunID.make(at: Date()) != RunID.make(at: Date()))
    }

    @Test func timestampsRoundTripWithMilliseconds() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123)
        let text = Timestamp.format(date)
        #expect(text == "2026-11-18T11:06:40.123Z")
        let parsed = try #require(Timestamp.parse(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.0005)
    }

    @Test func timestampsWrittenByOtherLanguagesParse() {
        #expect(Timestamp.parse("2026-11-29 02:33:49") == Date(timeIntervalSince1970: 1_795_919_629))
        #expect(Timestamp.parse("2026-11-29T02:33:49Z") == Date(timeIntervalSince1970: 1_795_919_629))
        #expect(Timestamp.parse("2026-11-29T02:33:49+00:00") == Date(timeIntervalSince1970: 1_795_919_629))
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.parse("2026-13-29T02:33:49Z") == nil)
    }

    @Test func subjectsParseAsTypeColonID() throws {
        #expect(try Subject(parsing: "document:42") == Subject(type: "document", id: "42"))
        #expect(try Subject(parsing: "doc:a:b") == Subject(type: "doc", id: "a:b"))
        #expect(throws: KilnError.self) { try Subject(parsing: "document") }
        #expect(throws: KilnError.self) { try Subject(parsing: ":42") }
    }
}
