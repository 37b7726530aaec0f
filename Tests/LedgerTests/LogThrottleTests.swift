import Ledger
import Testing

/// A repeated warning is logged once per interval, with the count of repeats left out.
@Suite struct LogThrottleTests {
    @Test func repeatsWithinTheIntervalAreCountedAndReportedWithTheNextLine() {
        let throttle = LogThrottle(intervalMs: 1_000)
        let start = ContinuousClock.now
        #expect(throttle.admit("ledger unavailable", at: start) == 0)
        for offset in 1...5 { #expect(throttle.admit("ledger unavailable", at: start + .milliseconds(offset * 100)) == nil) }
        #expect(throttle.admit("redis unavailable", at: start + .milliseconds(200)) == 0, "each message has its own interval")
        #expect(throttle.admit("ledger unavailable", at: start + .milliseconds(1_000)) == 5, "the next line says five were left out")
        #expect(throttle.admit("ledger unavailable", at: start + .milliseconds(1_100)) == nil)
        #expect(throttle.admit("ledger unavailable", at: start + .milliseconds(2_500)) == 1)
    }
}
