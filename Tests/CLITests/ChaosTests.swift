import Foundation
import KilnTestSupport
import Testing

/// A small `scripts/chaos` on each backend: faults, kills and cancellations, with two long
/// documents cut into trees while the kills land, then every run held against the simulator's
/// record and every document against its fault-free summary. (The README reports a large one.)
@Suite("scripts/chaos: nothing is lost", .serialized)
struct ChaosTests {
    static var root: URL {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }
        return root
    }

    @Test(arguments: Backend.allCases)
    func aSmallChaosRunLosesNothing(backend: Backend) async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-chaos-\(UUID().uuidString.prefix(8))")
        var arguments = [
            Self.root.appendingPathComponent("scripts/chaos").path, "--runs", "40", "--kills", "6", "--deadline", "12",
            "--documents", "2", "--document-parts", "10",
            "--out", out.path, "--kiln", KilnProcess.executable.path,
        ]
        if backend == .postgres { arguments += ["--database", try TestPostgres.serverURL()] }
        let (status, output) = try await runCommand("/usr/bin/env", ["python3"] + arguments)
        #expect(status == 0, "\(output.suffix(3000))")
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("chaos.json"))) as? [String: Any],
            "\(output)")
        #expect(report["lost"] as? Int == 0)
        #expect(report["double_finalized"] as? Int == 0)
        #expect(report["stuck"] as? Int == 0)
        #expect(report["kills"] as? Int == 6)
        #expect(report["documents"] as? Int == 2)
        #expect((report["document_problems"] as? [Any])?.isEmpty == true, "\(report["document_problems"] ?? "")")
        #expect((report["documents_differing_from_fault_free"] as? [Any])?.isEmpty == true)
        let duplicates = try #require(report["duplicate_creates"] as? Int)
        #expect(try #require(report["duplicates_reported"] as? Int) >= duplicates)
        let calls = try #require(report["calls_total"] as? Int)
        let calm = try #require(report["calls_fault_free"] as? Int)
        #expect(Double(calls) <= 1.5 * Double(calm), "calls \(calls) against \(calm) without faults")
        try? FileManager.default.removeItem(at: out)
    }
}
