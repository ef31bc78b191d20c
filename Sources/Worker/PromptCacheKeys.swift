import Foundation
import Synchronization

/// `prompt_cache_key`s for the runs this process sends: `kiln:FEATURE:PROMPT_VERSION:SHARD`, so
/// runs of one feature and prompt version (which share their instructions, the prefix the
/// provider caches) meet the same cache, and no key carries more than ``perKeyPerMinute``
/// requests a minute — above about 15 a minute for one prefix and key the provider spreads
/// requests over machines and they miss the cache. Each minute a feature's sends fill shard 0,
/// then shard 1, and so on: the shard count grows with the send rate and no more.
public final class PromptCacheKeys: Sendable {
    public static let perKeyPerMinute = 15
    private struct Window {
        var minute: Int
        var sent: Int
    }
    private let windows = Mutex<[String: Window]>([:])

    public init() {}

    /// The key for the next send of `feature` at `promptVersion`, at `now`.
    public func key(feature: String, promptVersion: String, now: Date) -> String {
        let base = "kiln:\(feature):\(promptVersion)"
        let minute = Int(now.timeIntervalSince1970 / 60)
        let shard = windows.withLock { windows -> Int in
            var window = windows[base] ?? Window(minute: minute, sent: 0)
            if window.minute != minute { window = Window(minute: minute, sent: 0) }
            let shard = window.sent / Self.perKeyPerMinute
            window.sent += 1
            windows[base] = window
            return shard
        }
        let key = "\(base):\(shard)"
        // The provider takes at most 64 characters: a long feature name is cut, the shard kept.
        return key.count <= 64 ? key : String(base.prefix(63 - "\(shard)".count)) + ":\(shard)"
    }
}
