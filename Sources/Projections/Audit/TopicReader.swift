import Foundation
import Ledger

/// Reads a whole topic once: each partition from the earliest offset retention left to the
/// high watermark seen at the start. Its consumer is assigned the partitions directly, so it
/// joins no group and moves no real consumer's offsets. Every wait has a deadline: frozen or
/// unreachable brokers give a `_TIMED_OUT` error, never a hang.
public enum TopicReader {
    public static func read(configuration: KafkaConfiguration, topic: String, timeoutMs: Int) async throws -> TopicContents {
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        var contents = TopicContents()
        let ends = try await watermarks(configuration: configuration, topic: topic, timeoutMs: Int32(clamping: timeoutMs))
        for (partition, range) in ends {
            contents.partitions[partition] = TopicContents.Partition(lowOffset: range.low, firstPosition: nil)
        }
        let remaining = ends.filter { $0.value.high > $0.value.low }
        guard !remaining.isEmpty else { return contents }

        let consumer = try await KafkaConsumer.connect(
            configuration: configuration, groupID: "ledger-audit-\(UUID.v7().lowercased)", name: "audit-consumer")
        do {
            try await consumer.assign(Dictionary(uniqueKeysWithValues: remaining.map { (KafkaTopicPartition(topic: topic, partition: $0.key), $0.value.low) }))
            try await read(consumer, into: &contents, until: remaining.mapValues(\.high), deadline: deadline, topic: topic)
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
        return contents
    }

    /// Each partition's (low, high) watermarks.
    private static func watermarks(configuration: KafkaConfiguration, topic: String, timeoutMs: Int32) async throws -> [Int32: (low: Int64, high: Int64)] {
        let admin = try await KafkaAdmin.connect(configuration: configuration, name: "audit-admin")
        do {
            var ends = [Int32: (low: Int64, high: Int64)]()
            for partition in 0..<(try await admin.partitionCount(topic, timeoutMs: timeoutMs) ?? 0) {
                ends[partition] = try await admin.watermarks(topic: topic, partition: partition, timeoutMs: timeoutMs)
            }
            await admin.close()
            return ends
        } catch {
            await admin.close()
            throw error
        }
    }

    private static func read(
        _ consumer: KafkaConsumer, into contents: inout TopicContents, until ends: [Int32: Int64], deadline: ContinuousClock.Instant, topic: String
    ) async throws {
        var remaining = ends
        while !remaining.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw KafkaError.timedOut("could not read \(topic) to its end in time: \(remaining.count) partition(s) unfinished")
            }
            for message in try await consumer.poll(maxMessages: Limits().auditPollMessages, timeoutMs: 200) {
                if let end = remaining[message.partition], message.offset + 1 >= end { remaining[message.partition] = nil }
                guard let key = message.key.flatMap({ Int64(String(decoding: $0, as: UTF8.self)) }),
                    let position = message.integerHeader("position")
                else { continue }
                if contents.partitions[message.partition]?.firstPosition == nil { contents.partitions[message.partition]?.firstPosition = position }
                contents.positionsByProduct[key, default: []].append(position)
                contents.partitionByProduct[key] = message.partition
            }
        }
    }
}
