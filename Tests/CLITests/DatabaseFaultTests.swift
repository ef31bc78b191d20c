import Foundation
import KilnSimulator
import KilnTestSupport
import Testing

/// The SQLite file locked by another process, the disk full, the file system read-only:
/// Kiln waits or fails clearly, resumes when the fault ends, and loses nothing. (The
/// PostgreSQL server restarting under load is in `ScaleOutTests`.)
@Suite("SQLite faults: wait or fail clearly, then resume", .serialized)
struct DatabaseFaultTests {
    static let input = #"{"text":"A document about the database faults."}"#

    /// A small tmpfs of the test's own, so the disk can really fill up and really turn read-only.
    struct SmallDisk {
        let path: String

        static func mount(kilobytes: Int) async throws -> SmallDisk {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-disk-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            let (status, output) = try await runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path])
            guard status == 0 else {
                throw KilnTestError("mounting a \(kilobytes) KB tmpfs failed (these tests need root, as CI runs them): \(output)")
            }
            return SmallDisk(path: path)
        }

        func remount(_ options: String) async throws {
            let (status, output) = try await runCommand("/bin/mount", ["-o", "remount,\(options)", path])
            guard status == 0 else { throw KilnTestError("remount \(options) failed: \(output)") }
        }

        func unmount() async {
            _ = try? await runCommand("/bin/umount", ["-l", path])
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    struct KilnTestError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func environment(_ base: String) -> [String: String] {
        [
            "OPENAI_BASE_URL": base, "OPENAI_API_KEY": "sk-test", "KILN_LOG_LEVEL": "warning",
            "KILN_POLLER_INITIAL_DELAY_SECONDS": "0.1", "KILN_POLLER_MIN_INTERVAL_SECONDS": "0.05",
            "KILN_POLLER_MAX_INTERVAL_SECONDS": "0.3", "KILN_WORKER_MAX_IDLE_SECONDS": "0.2",
        ]
    }

    static func simulator() -> Simulator {
        var configuration = SimulatorConfiguration()
        configuration.queueWaitMax = 0.1
        configuration.generationMedian = 0.3
        return Simulator(configuration: configuration)
    }

    /// Every listed run, by status.
    static func statuses(_ kiln: KilnProcess) async throws -> [String: Int] {
        let listed = try await kiln.run(["list", "--limit", "1000", "--json"])
        let runs = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]], "\(listed.stderr)")
        return runs.reduce(into: [:]) { $0[$1["status"] as? String ?? "?", default: 0] += 1 }
    }

    static func waitUntilAllCompleted(_ kiln: KilnProcess, count: Int, timeout: Double = 30) async throws -> [String: Int] {
        let deadline = Date().addingTimeInterval(timeout)
        var seen: [String: Int] = [:]
        while Date() < deadline {
            seen = try await statuses(kiln)
            if seen["completed"] == count { return seen }
            try await Task.sleep(for: .milliseconds(200))
        }
        return seen
    }

    @Test func aLockHeldByAnotherProcessIsWaitedOutThenAFailedWriteSaysSoAndTheWorkerResumes() async throws {
        let kiln = try KilnProcess()
        try await Self.simulator().withRunning { base in
            #expect(try await kiln.run(["enqueue", "document_summary", "--tenant", "t", "--input", Self.input]).status == 0)
            let worker = try kiln.start(["work"], environment: Self.environment(base), log: "work.log")
            // A short lock: the writer waits (busy timeout 10 s) and goes through.
            let short = try await DatabaseLocks.sqlite(kiln.databasePath, for: 2)
            let waited = try await kiln.run(["enqueue", "document_summary", "--tenant", "t", "--input", Self.input])
            #expect(waited.status == 0, "\(waited.stderr)")
            await short.exited()
            // A lock longer than the busy timeout: one clear line, a non-zero exit, nothing written.
            let long = try await DatabaseLocks.sqlite(kiln.databasePath, for: 12)
            let refused = try await kiln.run(["enqueue", "document_summary", "--tenant", "t", "--input", Self.input])
            await long.exited()
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("database is locked"), "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
            // The daemon lived through both locks and finishes what was written.
            let seen = try await Self.waitUntilAllCompleted(kiln, count: 2)
            kill(worker.processIdentifier, SIGTERM)
            await worker.exited()
            #expect(seen == ["completed": 2], "\(kiln.read("work.log").suffix(1000))")
            #expect(worker.terminationStatus == 0)
        }
    }

    @Test func aFullDiskRefusesNewRunsClearlyAndLosesNone() async throws {
        var kiln = try KilnProcess()
        let disk = try await SmallDisk.mount(kilobytes: 1024)  // the empty tables and indexes take ~400 KB with their WAL
        do {
            kiln.database = disk.path + "/kiln.sqlite"
            let big = #"{"text":"\#(String(repeating: "A long document. ", count: 2000))"}"#
            var accepted = 0
            var refusal: KilnProcess.Result?
            for _ in 0..<200 {
                let result = try await kiln.run(["enqueue", "document_summary", "--tenant", "t", "--input", big])
                if result.status != 0 {
                    refusal = result
                    break
                }
                accepted += 1
            }
            let refused = try #require(refusal, "the disk never filled")
            #expect(refused.stderr.contains("database or disk is full"), "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
            #expect(!refused.stderr.contains("Fatal error"))
            // What was accepted is intact and readable; the refused run is not half there.
            #expect(try await Self.statuses(kiln) == ["queued": accepted])
            // A worker started on the full disk keeps trying; when space comes back it finishes every run.
            try await Self.simulator().withRunning { [kiln, accepted] base in
                let worker = try kiln.start(["work"], environment: Self.environment(base), log: "work.log")
                try await Task.sleep(for: .seconds(2))
                #expect(worker.isRunning, "the worker waits for space instead of dying: \(kiln.read("work.log").suffix(800))")
                try await disk.remount("size=64m")
                let seen = try await Self.waitUntilAllCompleted(kiln, count: accepted, timeout: 60)
                kill(worker.processIdentifier, SIGTERM)
                await worker.exited()
                #expect(seen == ["completed": accepted], "\(kiln.read("work.log").suffix(1000))")
            }
        } catch {
            await disk.unmount()
            throw error
        }
        await disk.unmount()
    }

    @Test func aReadOnlyFileSystemIsRefusedClearlyAndWorkResumesWhenItIsWritable() async throws {
        var kiln = try KilnProcess()
        let disk = try await SmallDisk.mount(kilobytes: 16384)
        do {
            kiln.database = disk.path + "/kiln.sqlite"
            for _ in 0..<5 {
                #expect(try await kiln.run(["enqueue", "document_summary", "--tenant", "t", "--input", Self.input]).status == 0)
            }
            // (Linux refuses to turn a file system read-only while a process has a file open
            // for writing, so no Kiln process runs at the remount.)
            try await disk.remount("ro")
            try await Self.simulator().withRunning { [kiln] base in
                for arguments in [["enqueue", "document_summary", "--tenant", "t", "--input", Self.input], ["work", "--once"]] {
                    let refused = try await kiln.run(arguments, environment: Self.environment(base))
                    #expect(refused.status != 0, "\(arguments[0])")
                    #expect(refused.stderr.contains("readonly") || refused.stderr.contains("read-only"), "\(refused.stderr)")
                    #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
                    #expect(!refused.stderr.contains("Fatal error"))
                }
                try await disk.remount("rw")
                let worker = try kiln.start(["work"], environment: Self.environment(base), log: "work.log")
                let seen = try await Self.waitUntilAllCompleted(kiln, count: 5)
                kill(worker.processIdentifier, SIGTERM)
                await worker.exited()
                #expect(seen == ["completed": 5], "\(kiln.read("work.log").suffix(1000))")
                #expect(worker.terminationStatus == 0)
            }
        } catch {
            await disk.unmount()
            throw error
        }
        await disk.unmount()
    }
}
