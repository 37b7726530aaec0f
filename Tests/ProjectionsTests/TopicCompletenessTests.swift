import Ledger
@testable import Projections
import Testing

/// The topic audit's rule, without a broker: retention may trim each partition from the front;
/// everything after its first retained message must be there, in product order.
@Suite struct TopicCompletenessTests {
    private func topic(_ partitions: [Int32: TopicContents.Partition], _ products: [Int64: (partition: Int32, positions: [Int64])]) -> TopicContents {
        var contents = TopicContents()
        contents.partitions = partitions
        for (product, placed) in products {
            contents.positionsByProduct[product] = placed.positions
            contents.partitionByProduct[product] = placed.partition
        }
        return contents
    }

    private func subjects(_ result: TopicCompleteness.Result) -> [String] {
        result.differences.map { "\($0.subject): \($0.other)" }
    }

    @Test func anUntrimmedTopicMustHoldEveryPositionInOrder() {
        let ledger: [Int64: [Int64]] = [1: [1, 3, 5], 2: [2, 4]]
        let contents = topic(
            [0: .init(lowOffset: 0, firstPosition: 1), 1: .init(lowOffset: 0, firstPosition: 4)],
            [1: (0, [1, 5, 3, 5]), 2: (1, [4, 9])])
        let result = TopicCompleteness.compare(ledger: ledger, topic: contents, head: 10)
        #expect(subjects(result) == [
            "product 1 position 3: only after a later position",
            "product 2 position 2: missing",
            "product 2 position 9: published",
        ])
        #expect(result.trimmedPositions == 0)
    }

    @Test func positionsBeforeAPartitionsFirstRetainedMessageAreCountedNotReported() {
        // Partition 0 keeps messages from position 40 on; product 1 lives there, product 2 in untrimmed partition 1.
        let ledger: [Int64: [Int64]] = [1: [10, 20, 41, 50], 2: [15, 45], 3: [12]]
        let contents = topic(
            [0: .init(lowOffset: 7, firstPosition: 40), 1: .init(lowOffset: 0, firstPosition: 15)],
            [1: (0, [41, 50]), 2: (1, [15, 45])])
        let result = TopicCompleteness.compare(ledger: ledger, topic: contents, head: 60)
        #expect(result.differences == [])
        // 10 and 20 of product 1, and product 3, none of whose messages is left, below 40.
        #expect(result.trimmedPositions == 3)
    }

    @Test func aGapAfterTheFirstRetainedMessageIsStillAGap() {
        let ledger: [Int64: [Int64]] = [1: [10, 41, 45, 50], 3: [70]]
        let contents = topic([0: .init(lowOffset: 7, firstPosition: 40)], [1: (0, [41, 50])])
        let result = TopicCompleteness.compare(ledger: ledger, topic: contents, head: 80)
        #expect(subjects(result) == ["product 1 position 45: missing", "product 3 position 70: missing"])
        #expect(result.trimmedPositions == 1)
    }

    @Test func positionsBelowTheStartingPointAreNeitherComparedNorCounted() {
        let ledger: [Int64: [Int64]] = [1: [1, 2, 3, 8, 9]]
        let contents = topic([0: .init(lowOffset: 0, firstPosition: 1)], [1: (0, [1, 8, 9])])
        #expect(subjects(TopicCompleteness.compare(ledger: ledger, topic: contents, head: 9)) == [
            "product 1 position 2: missing", "product 1 position 3: missing",
        ])
        let fromEight = TopicCompleteness.compare(ledger: ledger, topic: contents, head: 9, fromPosition: 8)
        #expect(fromEight.differences == [])
        #expect(fromEight.trimmedPositions == 0)
    }

    @Test func aPartitionRetentionEmptiedHidesWhatItHeld() {
        let ledger: [Int64: [Int64]] = [1: [1, 2], 2: [3]]
        let contents = topic([0: .init(lowOffset: 5, firstPosition: nil), 1: .init(lowOffset: 0, firstPosition: 3)], [2: (1, [3])])
        let result = TopicCompleteness.compare(ledger: ledger, topic: contents, head: 3)
        #expect(result.differences == [])
        #expect(result.trimmedPositions == 2)
    }
}
