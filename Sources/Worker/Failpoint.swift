import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Named points where a test kills the process on purpose (`KILN_FAILPOINT=NAME`): the
/// process sends itself SIGKILL there, as `kill -9` would, so a test can stop Kiln exactly
/// between a provider call and its record. Unset (always, outside tests), a point costs one
/// comparison.
public enum Failpoint {
    private static let armed = ProcessInfo.processInfo.environment["KILN_FAILPOINT"]

    /// Dies here when `KILN_FAILPOINT` names this point.
    public static func hit(_ name: String) {
        guard let armed, armed == name else { return }
        FileHandle.standardError.write(Data("kiln: failpoint \(name): SIGKILL\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
