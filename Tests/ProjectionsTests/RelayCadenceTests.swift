@testable import Projections
import Testing

/// When the running relay reads again and writes its checkpoint, without servers.
@Suite struct RelayCadenceTests {
    private let cadence = RelayCadence(batchSize: 100, minRoundInterval: .milliseconds(25), checkpointInterval: .milliseconds(200))
    private let start = ContinuousClock.now

    @Test func aPartialRoundLetsEventsGatherUntilTheIntervalSinceItStarted() {
        #expect(cadence.nextRound(afterDelivering: 0, roundStart: start, now: start + .milliseconds(1)) == .whenNotified)
        #expect(cadence.nextRound(afterDelivering: 100, roundStart: start, now: start + .milliseconds(1)) == .now, "behind: read on")
        #expect(cadence.nextRound(afterDelivering: 7, roundStart: start, now: start + .milliseconds(10)) == .after(delay: .milliseconds(15)))
        #expect(cadence.nextRound(afterDelivering: 7, roundStart: start, now: start + .milliseconds(25)) == .now, "a slow round waits no more")
        #expect(cadence.nextRound(afterDelivering: 7, roundStart: start, now: start + .milliseconds(40)) == .now)
    }

    @Test func theCheckpointIsWrittenOncePerIntervalWhileEventsFlowAndAtOnceWhenCaughtUp() {
        #expect(!cadence.savesCheckpoint(afterDelivering: 5, unsavedSince: start, now: start + .milliseconds(199)))
        #expect(cadence.savesCheckpoint(afterDelivering: 5, unsavedSince: start, now: start + .milliseconds(200)))
        #expect(cadence.savesCheckpoint(afterDelivering: 0, unsavedSince: start, now: start + .milliseconds(1)), "caught up: write now")
    }
}
