import Foundation
import KilnWorker
import Testing

@Suite("Wake-ups")
struct WakeupTests {
    @Test func aTimedOutWaitLeavesTheNextWaitWorking() async {
        let wakeup = Wakeup()
        let clock = ContinuousClock()
        for _ in 0..<3 {
            let elapsed = await clock.measure { await wakeup.wait(seconds: 0.05) }
            #expect(elapsed >= .milliseconds(45), "a wait with no signal lasts its time, every time")
        }
    }

    @Test func aSignalEndsAWaitAndIsKeptWhenNobodyWaits() async {
        let wakeup = Wakeup()
        wakeup.signal()
        let clock = ContinuousClock()
        // Woken, not timed out: the timeouts are long enough that a loaded machine cannot blur the two.
        let kept = await clock.measure { await wakeup.wait(seconds: 120) }
        #expect(kept < .seconds(60))
        async let waited: Duration = clock.measure { await wakeup.wait(seconds: 120) }
        try? await Task.sleep(for: .milliseconds(50))
        wakeup.signal()
        #expect(await waited < .seconds(60))
    }
}
