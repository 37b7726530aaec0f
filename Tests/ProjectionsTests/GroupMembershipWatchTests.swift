@testable import Projections
import Testing

/// What the projector reports about its consumer group: each loss and each rejoin once, however
/// many polls see the same status.
@Suite struct GroupMembershipWatchTests {
    private func status(member: Bool, lost: Int = 0, failedCommits: Int = 0) -> KafkaGroupStatus {
        var status = KafkaGroupStatus()
        status.isMember = member
        status.lostAssignments = lost
        status.failedCommits = failedCommits
        return status
    }

    @Test func aLossAndTheRejoinAreReportedOnceEachAcrossManyPolls() {
        var watch = GroupMembershipWatch()
        #expect(watch.changes(status(member: false)) == [], "joining for the first time is not a rejoin")
        #expect(watch.changes(status(member: true)) == [])
        #expect(watch.changes(status(member: false, lost: 1)) == [.lost(times: 1)])
        for _ in 0..<10 { #expect(watch.changes(status(member: false, lost: 1)) == []) }
        #expect(watch.isRejoining)
        #expect(watch.changes(status(member: true, lost: 1)) == [.rejoined])
        #expect(!watch.isRejoining)
        #expect(watch.changes(status(member: true, lost: 1)) == [])
    }

    @Test func aLossAndRejoinBetweenTwoPollsAreBothReported() {
        var watch = GroupMembershipWatch()
        _ = watch.changes(status(member: true))
        #expect(watch.changes(status(member: true, lost: 2)) == [.lost(times: 2), .rejoined])
    }

    @Test func aCleanRebalanceIsNoLoss() {
        var watch = GroupMembershipWatch()
        _ = watch.changes(status(member: true))
        #expect(watch.changes(status(member: false)) == [], "revoked for a rebalance: partitions handed over, not lost")
        #expect(watch.changes(status(member: true)) == [])
    }

    @Test func failedCommitsAreCountedOnceEach() {
        var watch = GroupMembershipWatch()
        #expect(watch.changes(status(member: true, failedCommits: 3)) == [.commitsFailed(count: 3)])
        #expect(watch.changes(status(member: true, failedCommits: 3)) == [])
        #expect(watch.changes(status(member: true, failedCommits: 4)) == [.commitsFailed(count: 1)])
    }
}
