/// Where the projector expects each partition to continue. Offsets within a partition are
/// contiguous (the relay's idempotent producer writes no transaction markers), so a message
/// that does not follow the previous one is a jump: a rebalance or a restart that resumed at the
/// group's committed offset — or librdkafka's `auto.offset.reset` skipping to the earliest
/// offset the topic still holds because retention removed the ones in between. Only the group's
/// committed offset tells the two apart: a jump past it skipped messages nobody applied.
struct PartitionContinuity {
    private var next: [KafkaTopicPartition: Int64] = [:]

    /// The first message of each partition in `messages` that does not follow what came before
    /// (every partition's first message after a start).
    func jumps(in messages: [KafkaMessage]) -> [KafkaMessage] {
        var expected = next
        var jumps = [KafkaMessage]()
        for message in messages {
            let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
            if expected[partition] != message.offset { jumps.append(message) }
            expected[partition] = message.offset + 1
        }
        return jumps
    }

    /// The jumps that skipped messages: past the group's committed offset (`committed` lacks
    /// a partition the group never committed, whose first offset is 0).
    static func skips(_ jumps: [KafkaMessage], committed: [KafkaTopicPartition: Int64]) -> [KafkaMessage] {
        jumps.filter { $0.offset > committed[KafkaTopicPartition(topic: $0.topic, partition: $0.partition)] ?? 0 }
    }

    mutating func advance(past messages: [KafkaMessage]) {
        for message in messages {
            next[KafkaTopicPartition(topic: message.topic, partition: message.partition)] = message.offset + 1
        }
    }
}
