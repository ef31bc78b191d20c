import Foundation
import KilnDomain
import Testing

/// Cost as the provider bills it: cached input, cache writes and reasoning at their prices, the
/// tier the response reports, the window the run asked for — each against a hand computation.
@Suite("Pricing and lanes")
struct PricingTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    let price = ModelPrice(inputPerMillionMicros: 250_000, outputPerMillionMicros: 2_000_000, cachedInputPerMillionMicros: 25_000)
    /// 1,000 input (400 read from the cache, 100 written to it), 300 output (50 of them reasoning).
    let usage = RunUsage(
        inputTokens: 1_000, outputTokens: 300, totalTokens: 1_300, cachedInputTokens: 400, reasoningTokens: 50, cacheWriteTokens: 100)

    @Test func everyPartOfTheInputAtItsPrice() {
        // 500 uncached × 0.25 + 400 cached × 0.025 + 100 written × 0.25 + 300 output × 2 (µ$ per token) = 760 µ$.
        #expect(price.costMicros(for: usage) == (500 * 250_000 + 400 * 25_000 + 100 * 250_000 + 300 * 2_000_000) / 1_000_000)
        #expect(price.costMicros(for: usage) == 760)
        // Defaults: cached input a tenth of input, cache writes at the input price.
        let plain = ModelPrice(inputPerMillionMicros: 250_000, outputPerMillionMicros: 2_000_000)
        #expect(plain.cachedInput == 25_000 && plain.cacheWrite == 250_000)
        // Writes priced apart (GPT-5.6+: 1.25× input).
        let writes = ModelPrice(
            inputPerMillionMicros: 250_000, outputPerMillionMicros: 2_000_000, cachedInputPerMillionMicros: 25_000,
            cacheWritePerMillionMicros: 312_500)
        #expect(writes.costMicros(for: usage) == (500 * 250_000 + 400 * 25_000 + 100 * 312_500 + 300 * 2_000_000 + 999_999) / 1_000_000)
    }

    @Test func theTierTheResponseReportsAndTheWindowTheRunAskedFor() {
        let pricing = PricingSettings()
        #expect(pricing.multiplier(tier: "flex", window: nil) == 0.5)
        #expect(pricing.multiplier(tier: "priority", window: nil) == 2)
        #expect(pricing.multiplier(tier: "default", window: "2h") == 0.7)
        #expect(pricing.multiplier(tier: "default", window: "8h") == 0.6)
        #expect(pricing.multiplier(tier: nil, window: nil) == 1)
        #expect(pricing.multiplier(tier: "flex", window: "8h") == 0.5, "the reported tier wins")
        #expect(price.costMicros(for: usage, multiplier: 0.5) == 380)
        #expect(price.costMicros(for: usage, multiplier: 0.7) == 532)
        #expect(price.costMicros(for: usage, multiplier: 0.6) == 456)
        #expect(price.costMicros(for: usage, multiplier: 2) == 1_520)
    }

    @Test func finalizationPricesWhatWasServed() {
        var response = ProviderResponse(id: ResponseID("resp_1"), status: .completed)
        response.outputText = "Done."
        var served = usage
        served.serviceTier = "flex"
        response.usage = served
        let run = Run(id: RunID("run_1"), tenantID: TenantID("t"), feature: "document_summary", input: ["text": "x"], createdAt: Self.now)
        let flex = Finalization.outcome(
            of: response, run: run, policy: RunPolicy(lane: .flex), prices: ["gpt-5-mini": price], now: Self.now)
        #expect(flex.costMicros == 380)
        #expect(flex.usage?.serviceTier == "flex" && flex.usage?.cacheWriteTokens == 100)
        // Asked for flex but served at default: billed at default.
        served.serviceTier = "default"
        response.usage = served
        #expect(
            Finalization.outcome(of: response, run: run, policy: RunPolicy(), prices: ["gpt-5-mini": price], now: Self.now).costMicros
                == 760)
        let window = Finalization.outcome(
            of: response, run: run, policy: RunPolicy(completionWindow: .eightHours, lane: .window8h), prices: ["gpt-5-mini": price],
            now: Self.now)
        #expect(window.costMicros == 456)
        #expect(window.usage?.completionWindow == "8h", "the window is kept with the usage, so the bill can be recomputed")
    }

    @Test func lanesResolveToTheirRequestFields() throws {
        let window = try RunPolicy().applying(["lane": "window_2h", "deadline_seconds": 28_800])
        #expect(window.completionWindow == .twoHours)
        #expect(throws: KilnError.self) { _ = try RunPolicy().applying(["lane": "flex", "completion_window": "8h"]) }
        #expect(throws: KilnError.self) { _ = try RunPolicy().applying(["lane": "batchy"]) }
        // A feature's window lane gives way to a run's flex.
        #expect(try window.applying(["lane": "flex"]).completionWindow == nil)
        #expect(RunPolicy(lane: .flex).json["lane"] == "flex")
    }

    @Test func flexIsAskedForThenFallsBackToStandard() {
        var settings = SubmitterSettings()
        settings.flexFallbackSeconds = 600
        let decision = SubmitDecision(settings: settings, limits: InputLimits())
        let policy = RunPolicy(deadlineSeconds: 3600, lane: .flex)
        var run = Run(
            id: RunID("run_1"), tenantID: TenantID("t"), feature: "document_summary", input: ["text": "A document."], createdAt: Self.now)
        run.status = .submitting
        func sent(at now: Date) -> GenerationRequest? {
            guard case .send(let request, _, _) = decision.plan(for: run, policy: .success(policy), features: .builtIn, now: now) else {
                return nil
            }
            return request
        }
        #expect(sent(at: Self.now)?.serviceTier == "flex")
        #expect(sent(at: Self.now)?.fallbackFrom == nil)
        #expect(sent(at: Self.now + 600)?.serviceTier == nil, "waited long enough")
        #expect(sent(at: Self.now + 600)?.fallbackFrom == .flex)
        // Near the deadline too (a run made with a short deadline).
        let short = RunPolicy(deadlineSeconds: 700, lane: .flex)
        guard case .send(let late, _, _) = decision.plan(for: run, policy: .success(short), features: .builtIn, now: Self.now + 200) else {
            Issue.record("sent")
            return
        }
        #expect(late.fallbackFrom == .flex)
    }

    @Test func capacityAndQuotaRefusalsAreNotRunFailures() {
        let decision = SubmitDecision(settings: SubmitterSettings(), limits: InputLimits())
        var sending = Run(
            id: RunID("run_1"), tenantID: TenantID("t"), feature: "document_summary", input: ["text": "x"], createdAt: Self.now)
        sending.status = .submitting
        sending.leaseOwner = "s"
        sending.attempt = 1
        sending.sendStartedAt = Self.now
        let flex = decision.after(
            ProviderError(kind: .rateLimited, httpStatus: 429, code: "resource_unavailable", message: "busy"), sending: sending,
            policy: RunPolicy(lane: .flex), now: Self.now, random: 0.5)
        guard case .requeue(let at, _, let refund) = flex.transition else {
            Issue.record("re-queued")
            return
        }
        #expect(refund && flex.pauseSeconds == nil, "no attempt spent, no pause of other runs")
        #expect(at == Self.now + 60)
        #expect(flex.details["reason"] == "flex_unavailable")
        let quota = decision.after(
            ProviderError(kind: .rateLimited, httpStatus: 429, code: "insufficient_quota", message: "quota"), sending: sending,
            policy: RunPolicy(), now: Self.now, random: 0.5)
        guard case .requeue(let quotaAt, _, true) = quota.transition else {
            Issue.record("re-queued without an attempt")
            return
        }
        #expect(quota.pauseSeconds == 300 && quotaAt == Self.now + 300)
        #expect(quota.eventKind == "quota_exhausted")
    }
}
