import Foundation
import KilnDomain
import Testing

@Suite("Quota check")
struct QuotaCheckTests {
    typealias Scope = QuotaCheck.Scope

    @Test func anInFlightLimitAdmitsUpToItAndHoldsTheRestOfTheScope() {
        var check = QuotaCheck(limits: [.tenant("acme"): QuotaLimits(maxInFlight: 3)], usage: [.tenant("acme"): QuotaUsage(inFlight: 1)])
        let verdicts = (0..<4).map { _ in check.decide(tenant: "acme", feature: "f", assessment: Assessment(reservationMicros: 10)) }
        #expect(verdicts[0] == .admit(reservationMicros: 10))
        #expect(verdicts[1] == .admit(reservationMicros: 10))
        guard case .hold(let hold) = verdicts[2] else {
            Issue.record("the third is held: \(verdicts[2])")
            return
        }
        #expect(hold.reason == .tenantInFlight)
        #expect(hold.sentence == "tenant acme is at its limit of 3 runs in flight")
        #expect(verdicts[3] == .hold(hold))
        #expect(
            check.decide(tenant: "globex", feature: "f", assessment: Assessment(reservationMicros: 10)) == .admit(reservationMicros: 10))
    }

    @Test func aCostCapCountsSpendAndReservationsAndTheRunsItAdmits() {
        let usage = QuotaUsage(inFlight: 2, reservedMicros: 300, spentTodayMicros: 500, spentMonthMicros: 5_000)
        var check = QuotaCheck(limits: [.tenant("acme"): QuotaLimits(dailyCostMicros: 1_000)], usage: [.tenant("acme"): usage])
        // 500 spent + 300 reserved: 200 left.
        #expect(
            check.decide(tenant: "acme", feature: "f", assessment: Assessment(reservationMicros: 150)) == .admit(reservationMicros: 150))
        guard case .hold(let hold) = check.decide(tenant: "acme", feature: "f", assessment: Assessment(reservationMicros: 51)) else {
            Issue.record("51 more would make 1,001")
            return
        }
        #expect(hold.reason == .tenantDailyCost)
        #expect(
            hold.sentence
                == "tenant acme's daily cost cap of $0.001000 would be exceeded: $0.000500 spent, $0.000450 reserved by runs in flight, this run up to $0.000051"
        )
        // First in, first out: a smaller run behind it waits too.
        #expect(check.decide(tenant: "acme", feature: "f", assessment: Assessment(reservationMicros: 1)) == .hold(hold))
    }

    @Test func aMonthlyCapAndAFeatureCapApplyWhenTheDailyOneDoesNot() {
        var check = QuotaCheck(
            limits: [
                .tenant("acme"): QuotaLimits(dailyCostMicros: 10_000, monthlyCostMicros: 6_000),
                .feature("f"): QuotaLimits(dailyCostMicros: 100),
            ],
            usage: [.tenant("acme"): QuotaUsage(spentTodayMicros: 10, spentMonthMicros: 5_990), .feature("g"): QuotaUsage()])
        guard case .hold(let monthly) = check.decide(tenant: "acme", feature: "g", assessment: Assessment(reservationMicros: 20)) else {
            Issue.record("the month's 6,000 would be exceeded")
            return
        }
        #expect(monthly.reason == .tenantMonthlyCost)
        guard case .hold(let feature) = check.decide(tenant: "globex", feature: "f", assessment: Assessment(reservationMicros: 101)) else {
            Issue.record("the feature's 100 a day would be exceeded")
            return
        }
        #expect(feature.reason == .featureDailyCost)
        #expect(feature.scope == .feature("f"))
    }

    @Test func overBudgetFailFailsOnlyForCostCapsAndExemptRunsAlwaysGo() {
        var check = QuotaCheck(
            limits: [.tenant("acme"): QuotaLimits(maxInFlight: 0, dailyCostMicros: 0), .tenant("globex"): QuotaLimits(dailyCostMicros: 0)],
            usage: [:])
        // An in-flight limit never fails a run.
        guard case .hold = check.decide(tenant: "acme", feature: "f", assessment: Assessment(reservationMicros: 1, overBudget: .fail))
        else {
            Issue.record("held, not failed")
            return
        }
        guard
            case .fail(let failure) = check.decide(
                tenant: "globex", feature: "f", assessment: Assessment(reservationMicros: 1, overBudget: .fail))
        else {
            Issue.record("a cost cap fails a run whose policy says so")
            return
        }
        #expect(failure.code == "over_budget")
        #expect(failure.message.contains("tenant globex's daily cost cap"))
        #expect(
            check.decide(tenant: "acme", feature: "f", assessment: Assessment(reservationMicros: 0, exempt: true))
                == .admit(reservationMicros: 0))
    }

    @Test func aHoldIsReadBackFromItsEvent() {
        var check = QuotaCheck(limits: [.feature("f"): QuotaLimits(maxInFlight: 1)], usage: [.feature("f"): QuotaUsage(inFlight: 1)])
        guard case .hold(let hold) = check.decide(tenant: "acme", feature: "f", assessment: Assessment(reservationMicros: 1)) else {
            Issue.record("held")
            return
        }
        var details = hold.details
        details["reason"] = .string(hold.reason.rawValue)
        details["feature"] = "f"
        let event = RunEvent(
            runID: RunID("run_1"), fromStatus: .queued, toStatus: .queued, at: Date(), actor: "t", kind: "held", details: .object(details))
        #expect(QuotaCheck.Hold(event: event)?.sentence == "feature f is at its limit of 1 runs in flight")
    }

    @Test func aRequestsMostCostCountsEveryByteAndTheWholeOutputBudget() {
        let request = GenerationRequest(
            model: "gpt-5-mini", instructions: String(repeating: "i", count: 100), input: .text(String(repeating: "é", count: 50)),
            maxOutputTokens: 2_000, completionWindow: nil)
        // (100 + 100 + 64) input tokens at 250,000 µ$/M and 2,000 output tokens at 2,000,000 µ$/M, rounded up.
        let price = ModelPrice(inputPerMillionMicros: 250_000, outputPerMillionMicros: 2_000_000)
        #expect(request.maxCostMicros(at: price) == (264 * 250_000 + 2_000 * 2_000_000 + 999_999) / 1_000_000)
    }
}
