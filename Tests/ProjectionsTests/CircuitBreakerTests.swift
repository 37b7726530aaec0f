import Projections
import Testing

/// The gate's breaker as a state machine, on a clock the test moves.
@Suite struct CircuitBreakerTests {
    let start = ContinuousClock.now

    func breaker() -> CircuitBreaker {
        CircuitBreaker(failureThreshold: 3, window: .seconds(1), openDuration: .milliseconds(500))
    }

    @Test func failuresWithinTheWindowOpenItAndSpreadOnesDoNot() {
        var breaker = breaker()
        let opened1 = breaker.recordFailure(at: start)
        #expect(!opened1)
        let opened2 = breaker.recordFailure(at: start + .milliseconds(400))
        #expect(!opened2)
        // The window started at the first failure; the third comes after it ended.
        let opened3 = breaker.recordFailure(at: start + .milliseconds(1_100))
        #expect(!opened3)
        #expect(breaker.isClosed)
        let opened4 = breaker.recordFailure(at: start + .milliseconds(1_200))
        #expect(!opened4)
        let opened5 = breaker.recordFailure(at: start + .milliseconds(1_300))
        #expect(opened5, "three within one window")
        #expect(breaker.state == .open(until: start + .milliseconds(1_800)))
        let opened6 = breaker.recordFailure(at: start + .milliseconds(1_400))
        #expect(!opened6, "a late failure of a call admitted before does not reopen it")
        #expect(breaker.state == .open(until: start + .milliseconds(1_800)))
    }

    @Test func aProbeIsWantedOnlyAfterTheOpenDurationAndDecidesTheState() {
        var breaker = breaker()
        for offset in 0..<3 { breaker.recordFailure(at: start + .milliseconds(offset)) }
        #expect(!breaker.wantsProbe(at: start + .milliseconds(300)))
        #expect(breaker.wantsProbe(at: start + .milliseconds(502)))
        breaker.probeFailed(at: start + .milliseconds(600))
        #expect(breaker.state == .open(until: start + .milliseconds(1_100)), "another open duration from the failed probe")
        #expect(!breaker.wantsProbe(at: start + .milliseconds(900)))
        breaker.probeSucceeded()
        #expect(breaker.isClosed)
        // Closed again with a fresh count: two failures do not reopen it.
        breaker.recordFailure(at: start + .milliseconds(1_200))
        breaker.recordFailure(at: start + .milliseconds(1_300))
        #expect(breaker.isClosed)
        #expect(!breaker.wantsProbe(at: start + .seconds(10)), "a closed breaker asks for no probe")
    }

    @Test func aHoldKeepsItOpenUntilReleasedWhateverProbesAndFailuresSay() {
        var breaker = breaker()
        breaker.holdOpen()
        #expect(!breaker.isClosed)
        #expect(!breaker.wantsProbe(at: start + .seconds(10)), "no probe while the model is rebuilt")
        breaker.probeSucceeded()
        #expect(breaker.state == .heldOpen, "a probe cannot end a hold")
        let opened7 = breaker.recordFailure(at: start)
        #expect(!opened7)
        breaker.release()
        #expect(breaker.isClosed)
        breaker.release()
        #expect(breaker.isClosed, "releasing twice changes nothing")

        // A hold also ends an opening caused by failures; releasing it closes the breaker.
        for offset in 0..<3 { breaker.recordFailure(at: start + .milliseconds(offset)) }
        breaker.holdOpen()
        breaker.probeFailed(at: start + .seconds(1))
        #expect(breaker.state == .heldOpen)
        breaker.release()
        #expect(breaker.isClosed)
    }

    @Test func releaseDoesNotCloseABreakerThatFailuresOpened() {
        var breaker = breaker()
        for offset in 0..<3 { breaker.recordFailure(at: start + .milliseconds(offset)) }
        breaker.release()
        #expect(!breaker.isClosed, "only a probe closes what failures opened")
    }
}
