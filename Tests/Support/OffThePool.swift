import Dispatch
import Foundation

/// Runs blocking work (waiting for a child process, reading its pipes) on a Dispatch thread,
/// so it never holds one of the few cooperative threads that the in-process simulator and
/// every other test need. On 2 cores, two blocked tests would stall them all.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try work() })
        }
    }
}

extension Process {
    /// Waits for the process to end without blocking a cooperative thread.
    public func exited() async {
        _ = try? await offThePool { [self] in self.waitUntilExit() }
    }
}

/// Runs a command to its end, off the pool; its status and combined output.
public func runCommand(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
    try await offThePool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
