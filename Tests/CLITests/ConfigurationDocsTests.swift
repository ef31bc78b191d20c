import Foundation
import Testing

@testable import KilnCLI

@Suite("Configuration is documented")
struct ConfigurationDocsTests {
    /// config/kiln.json lists exactly the keys the loader knows, and README.md names each one.
    @Test func everyKeyIsInTheDefaultFileAndTheREADME() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: root.appendingPathComponent("config/kiln.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var documented: Set<String> = []
        for (section, value) in document where !section.hasPrefix("_") && section != "prices" {
            for key in (value as? [String: Any] ?? [:]).keys where !key.hasPrefix("_") { documented.insert("\(section).\(key)") }
        }
        let known = Set(ConfigurationLoader.keys.map(\.name))
        #expect(
            documented == known, "only in the file: \(documented.subtracting(known)); only in the loader: \(known.subtracting(documented))")
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        for key in known.sorted() { #expect(readme.contains("`\(key)`"), "README.md documents \(key)") }
    }

    @Test func environmentNamesFollowTheKey() {
        #expect(ConfigurationLoader.environmentName(of: "poller.max_interval_seconds") == "KILN_POLLER_MAX_INTERVAL_SECONDS")
    }
}
