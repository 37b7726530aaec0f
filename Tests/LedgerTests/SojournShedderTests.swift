import Ledger
import Testing

/// The shedding decision alone: a standing queue is shed, a burst or a stall is not.
@Suite struct SojournShedderTests {
    let start = ContinuousClock.now

    func at(_ ms: Int) -> ContinuousClock.Instant { start + .milliseconds(ms) }

    @Test func waitsAboveTheTargetForAWholeIntervalWithoutDrainingOverload() {
        var shedder = SojournShedder(targetMs: 5, intervalMs: 100)
        for ms in stride(from: 0, to: 100, by: 10) {
            shedder.observe(wait: .milliseconds(20), drained: false, at: at(ms))
            #expect(!shedder.isOverloaded, "not before a whole interval")
        }
        shedder.observe(wait: .milliseconds(20), drained: false, at: at(100))
        #expect(shedder.isOverloaded)
        #expect(shedder.sheds(wait: .milliseconds(6)) && !shedder.sheds(wait: .milliseconds(5)), "only work that waited past the target")
        shedder.observe(wait: .milliseconds(3), drained: false, at: at(110))
        #expect(!shedder.isOverloaded && !shedder.sheds(wait: .seconds(1)), "one short wait ends it")
    }

    @Test func aBurstThatDrainsOrOneShortWaitInTheIntervalNeverSheds() {
        var shedder = SojournShedder(targetMs: 5, intervalMs: 100)
        for ms in stride(from: 0, through: 1_000, by: 10) {
            // Every take waits long (a slow commit before it) but empties the queue.
            shedder.observe(wait: .milliseconds(50), drained: true, at: at(ms))
        }
        #expect(!shedder.isOverloaded)
        for ms in stride(from: 1_000, through: 2_000, by: 10) {
            shedder.observe(wait: .milliseconds(ms % 90 == 0 ? 1 : 50), drained: false, at: at(ms))
            #expect(!shedder.isOverloaded, "a short wait every 90 ms restarts the interval")
        }
    }
}
