import CRdKafka
import Foundation
import Ledger

/// Reads a whole topic once, from the beginning to the high watermarks seen at the start,
/// with a throw-away consumer group (so it moves no real consumer's offsets).
enum TopicReader {
    /// Per product (the message key), the `position` headers in the order the topic holds them.
    static func positionsByProduct(configuration: KafkaConfiguration, topic: String, timeoutMs: Int) async throws -> [Int64: [Int64]] {
        let admin = try await KafkaAdmin.connect(configuration: configuration, name: "audit-admin")
        var ends = [Int32: Int64]()
        do {
            let partitions = try await admin.partitionCount(topic) ?? 0
            for partition in 0..<partitions {
                ends[partition] = try await admin.watermarks(topic: topic, partition: partition).high
            }
        } catch {
            await admin.close()
            throw error
        }
        await admin.close()
        let remaining = ends.filter { $0.value > 0 }
        guard !remaining.isEmpty else { return [:] }

        var consumerConfiguration = configuration
        consumerConfiguration["auto.offset.reset"] = "earliest"
        let consumer = try await KafkaConsumer.connect(
            configuration: consumerConfiguration, groupID: "ledger-audit-\(UUID.v7().lowercased)", name: "audit-consumer")
        do {
            let positions = try await read(consumer, topic: topic, until: remaining, timeoutMs: timeoutMs)
            await consumer.close()
            return positions
        } catch {
            await consumer.close()
            throw error
        }
    }

    private static func read(_ consumer: KafkaConsumer, topic: String, until ends: [Int32: Int64], timeoutMs: Int) async throws -> [Int64: [Int64]] {
        var remaining = ends
        try await consumer.subscribe(topics: [topic])
        var positions = [Int64: [Int64]]()
        let deadline = ContinuousClock.now + .milliseconds(timeoutMs)
        while !remaining.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, "could not read \(topic) to its end within \(timeoutMs) ms")
            }
            for message in try await consumer.poll(maxMessages: 10_000, timeoutMs: 200) {
                if let end = remaining[message.partition], message.offset + 1 >= end { remaining[message.partition] = nil }
                guard let key = message.key.flatMap({ Int64(String(decoding: $0, as: UTF8.self)) }),
                    let position = message.integerHeader("position")
                else { continue }
                positions[key, default: []].append(position)
            }
        }
        return positions
    }
}
