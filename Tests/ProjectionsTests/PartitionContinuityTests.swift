@testable import Projections
import Testing

/// The projector's rule for telling a harmless restart from skipped messages, without a broker.
@Suite struct PartitionContinuityTests {
    private func message(_ partition: Int32, _ offset: Int64) -> KafkaMessage {
        KafkaMessage(topic: "t", partition: partition, offset: offset, key: nil, value: [], headers: [])
    }

    private func partition(_ number: Int32) -> KafkaTopicPartition { KafkaTopicPartition(topic: "t", partition: number) }

    @Test func everyPartitionsFirstMessageAndEveryGapIsAJump() {
        var continuity = PartitionContinuity()
        let first = [message(0, 5), message(0, 6), message(1, 0), message(0, 7)]
        #expect(continuity.jumps(in: first).map(\.offset) == [5, 0], "the first message of each partition")
        continuity.advance(past: first)
        #expect(continuity.jumps(in: [message(0, 8), message(1, 1)]).isEmpty)
        let gap = continuity.jumps(in: [message(0, 8), message(0, 12), message(1, 1)])
        #expect(gap.map { [$0.partition, Int32($0.offset)] } == [[0, 12]], "a gap inside a batch")
        #expect(continuity.jumps(in: [message(1, 0)]).map(\.offset) == [0], "a step back (redelivery after a rebalance) is a jump too")
    }

    @Test func onlyAJumpPastTheCommittedOffsetSkippedMessages() {
        let jumps = [message(0, 100), message(1, 40), message(2, 0), message(3, 7)]
        // Partition 0 resumed where the group committed, 1 before it (redelivery), 2 at the start of
        // a new group's topic; 3 started past where the group had got to, and 4 never committed.
        let skips = PartitionContinuity.skips(jumps + [message(4, 3)], committed: [partition(0): 100, partition(1): 55, partition(3): 2])
        #expect(skips.map(\.partition) == [3, 4])
    }
}
