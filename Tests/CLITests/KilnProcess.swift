import Foundation
import KilnTestSupport

/// Runs the built `kiln` executable as a user would, and captures what it printed.
struct KilnProcess: Sendable {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// The `kiln` binary next to the test bundle (`swift build` puts both in one folder).
    static let executable: URL = {
        if let path = ProcessInfo.processInfo.environment["KILN_BINARY"] { return URL(fileURLWithPath: path) }
        var directory = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("kiln")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: ".build/debug/kiln")
    }()

    /// A scratch folder for one test: its database and files.
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    var databasePath: String { directory.appendingPathComponent("kiln.sqlite").path }

    /// What `--database` gets: the scratch SQLite file unless a test points it elsewhere.
    var database: String?

    /// `kiln ARGS --database <scratch db>` with `environment` added to a clean environment.
    func run(_ arguments: [String], environment: [String: String] = [:], database: Bool = true) async throws -> Result {
        try await offThePool { try self.runBlocking(arguments, environment: environment, database: database) }
    }

    private func runBlocking(_ arguments: [String], environment: [String: String], database: Bool) throws -> Result {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments + (database ? ["--database", self.database ?? databasePath] : [])
        process.currentDirectoryURL = directory
        var env = ["PATH": "/usr/bin:/bin", "HOME": directory.path]
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Starts `kiln ARGS --database <scratch db>` in the background, output to a log file.
    func start(_ arguments: [String], environment: [String: String] = [:], log: String) throws -> Process {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments + ["--database", database ?? databasePath]
        process.currentDirectoryURL = directory
        var env = ["PATH": "/usr/bin:/bin", "HOME": directory.path]
        env.merge(environment) { $1 }
        process.environment = env
        let url = directory.appendingPathComponent(log)
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    func read(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}
