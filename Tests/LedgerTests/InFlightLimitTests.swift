import Ledger
import Testing

/// The adapting cap alone: it shrinks while a window's fastest answer misses the target, grows
/// back once one meets it, and stays within its floor and ceiling.
@Suite struct InFlightLimitTests {
    let start = ContinuousClock.now

    func at(_ ms: Int) -> ContinuousClock.Instant { start + .milliseconds(ms) }

    @Test func aWindowWhoseFastestAnswerMissedTheTargetShrinksTheCapToItsFloor() {
        var limit = InFlightLimit(floor: 10, ceiling: 100, targetMs: 20, windowMs: 100)
        #expect(limit.value == 100, "starts at the ceiling")
        limit.observe(latency: .milliseconds(30), at: at(0))
        limit.observe(latency: .milliseconds(40), at: at(50))
        #expect(limit.value == 100, "not before a whole window")
        limit.observe(latency: .milliseconds(30), at: at(100))
        #expect(limit.value == 75)
        var values = [Int]()
        for ms in stride(from: 200, through: 1_000, by: 100) {
            limit.observe(latency: .milliseconds(25), at: at(ms))
            values.append(limit.value)
        }
        #expect(values == [56, 42, 31, 23, 17, 12, 10, 10, 10], "a quarter a window, down to the floor")
    }

    @Test func oneAnswerWithinTheTargetInAWindowGrowsTheCapUpToItsCeiling() {
        var limit = InFlightLimit(floor: 10, ceiling: 160, targetMs: 20, windowMs: 100)
        for ms in stride(from: 0, through: 1_000, by: 100) { limit.observe(latency: .milliseconds(50), at: at(ms)) }
        #expect(limit.value == 10)
        // Every window has slow answers, but its fastest met the target: no standing backlog.
        var values = [Int]()
        for ms in stride(from: 1_100, through: 2_700, by: 100) {
            limit.observe(latency: .milliseconds(200), at: at(ms - 50))
            limit.observe(latency: .milliseconds(ms == 1_100 ? 200 : 5), at: at(ms - 10))
            limit.observe(latency: .milliseconds(200), at: at(ms))
            values.append(limit.value)
        }
        #expect(values.first == 10, "the window that closes at the first one held the slow answers only")
        #expect(values[1] == 20, "a sixteenth of the ceiling a window")
        #expect(values.last == 160 && values.allSatisfy { $0 <= 160 }, "up to the ceiling, never past it")
    }

    @Test func aWindowWithoutAnswersChangesNothing() {
        var limit = InFlightLimit(floor: 10, ceiling: 100, targetMs: 20, windowMs: 100)
        limit.observe(latency: .milliseconds(50), at: at(0))
        limit.observe(latency: .milliseconds(50), at: at(100))
        #expect(limit.value == 75)
        // Nothing answered for a second (an outage): the next answer closes one window only.
        limit.observe(latency: .milliseconds(5), at: at(1_100))
        #expect(limit.value == 81)
    }

    @Test func aFixedCapNeverMoves() {
        var limit = InFlightLimit(floor: 64, ceiling: 64, targetMs: 1, windowMs: 1)
        for ms in 0..<50 { limit.observe(latency: .milliseconds(ms % 2 == 0 ? 500 : 0), at: at(ms)) }
        #expect(limit.value == 64)
    }
}
