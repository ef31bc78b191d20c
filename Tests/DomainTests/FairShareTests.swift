import KilnDomain
import Testing

@Suite("Fair share between tenants")
struct FairShareTests {
    @Test func interleaveTakesEachTenantsNextRunInTurn() {
        let picked = FairShare.interleave([["a1", "a2", "a3", "a4"], ["b1"], ["c1", "c2"]], limit: 6)
        #expect(picked == ["a1", "b1", "c1", "a2", "c2", "a3"])
        #expect(FairShare.interleave([["a1", "a2"], ["b1"]], limit: 10) == ["a1", "b1", "a2"])
        #expect(FairShare.interleave([[String]](), limit: 5).isEmpty)
    }

    @Test func rotationStartsAfterTheLastTenantAndWrapsAround() {
        #expect(FairShare.rotation(after: ["m", "n"], wrapped: ["a", "b", "m", "n"], limit: 3) == ["m", "n", "a"])
        #expect(FairShare.rotation(after: ["a", "b", "c"], wrapped: [], limit: 2) == ["a", "b"])
    }
}
