import Foundation

/// Prompt caching as the provider documents it: a prefix of at least 1,024 tokens is cached in
/// 128-token steps; a request whose `prompt_cache_key` and prefix (here the instructions) were
/// seen within the retention (5 minutes of simulated time) reads it from the cache; above 15
/// requests a minute for one key and prefix, requests overflow to other machines and miss.
struct PromptCacheEntry: Sendable {
    var lastUsed: Double
    var minute: Int
    var requestsThisMinute: Int
}

extension SimulatorState {
    static let cacheMinimumTokens = 1_024
    static let cacheStep = 128
    static let cacheRetentionSeconds = 300.0
    static let cachePerKeyPerMinute = 15

    /// The cached input tokens of `request`, recording its use of the cache.
    static func cachedTokens(_ request: CreateRequest, now: Double, state: inout Inner) -> Int {
        let prefix = request.instructions ?? ""
        let prefixTokens = SimulatedResponse.tokens(prefix)
        guard prefixTokens >= cacheMinimumTokens else { return 0 }
        let scale = state.configuration.timeScale
        let simulatedNow = now * scale
        let entryKey = (request.promptCacheKey ?? "") + "|" + String(SeededRandom.hash(prefix))
        let minute = Int(simulatedNow / 60)
        var entry = state.promptCache[entryKey] ?? PromptCacheEntry(lastUsed: -.infinity, minute: minute, requestsThisMinute: 0)
        if entry.minute != minute { (entry.minute, entry.requestsThisMinute) = (minute, 0) }
        entry.requestsThisMinute += 1
        let warm = simulatedNow - entry.lastUsed <= cacheRetentionSeconds
        let overflow = entry.requestsThisMinute > cachePerKeyPerMinute
        entry.lastUsed = simulatedNow
        state.promptCache[entryKey] = entry
        return warm && !overflow ? prefixTokens / cacheStep * cacheStep : 0
    }
}
