import CRdKafka
import Ledger

/// A group consumer with manual offset commits (`enable.auto.commit=false`): a message counts
/// as consumed only once `commit` says so, so a crash re-delivers instead of losing.
/// Every librdkafka call, including the blocking poll, runs on the consumer's own thread.
public final class KafkaConsumer: Sendable {
    private let confined: ThreadConfined<ConsumerClient>

    private init(confined: ThreadConfined<ConsumerClient>) {
        self.confined = confined
    }

    public static func connect(
        configuration: KafkaConfiguration, groupID: String, name: String = "kafka-consumer"
    ) async throws -> KafkaConsumer {
        var configuration = configuration
        configuration["group.id"] = groupID
        configuration["enable.auto.commit"] = "false"
        if configuration["auto.offset.reset"] == nil { configuration["auto.offset.reset"] = "earliest" }
        let finalConfiguration = configuration
        let confined = try await ThreadConfined.open(
            name: name,
            closedError: { KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "consumer is closed") },
            { try ConsumerClient(configuration: finalConfiguration) })
        return KafkaConsumer(confined: confined)
    }

    public func subscribe(topics: [String]) async throws {
        try await confined.run { try $0.subscribe(topics) }
    }

    /// The next message, or nil when none arrived within `timeoutMs`.
    public func poll(timeoutMs: Int32) async throws -> KafkaMessage? {
        try await confined.run { try $0.poll(timeoutMs: timeoutMs) }
    }

    /// Up to `maxMessages` messages in one hop to the consumer's thread: waits up to `timeoutMs`
    /// for the first, then takes only what is already fetched.
    public func poll(maxMessages: Int, timeoutMs: Int32) async throws -> [KafkaMessage] {
        try await confined.run { client in
            var messages = [KafkaMessage]()
            while messages.count < maxMessages, let message = try client.poll(timeoutMs: messages.isEmpty ? timeoutMs : 0) {
                messages.append(message)
            }
            return messages
        }
    }

    /// Consumed messages; the sequence ends when the consuming task is cancelled or the consumer closes.
    public var messages: KafkaMessageSequence {
        KafkaMessageSequence(consumer: self)
    }

    /// Commits `message.offset + 1` for its partition, synchronously with the group coordinator.
    public func commit(_ message: KafkaMessage) async throws {
        try await confined.run { try $0.commit([KafkaTopicPartition(topic: message.topic, partition: message.partition): message.offset + 1]) }
    }

    /// Commits, for each partition, the offset after the last of `messages` in it.
    public func commit(_ messages: [KafkaMessage]) async throws {
        var next = [KafkaTopicPartition: Int64]()
        for message in messages {
            let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
            next[partition] = max(next[partition] ?? 0, message.offset + 1)
        }
        guard !next.isEmpty else { return }
        let offsets = next
        try await confined.run { try $0.commit(offsets) }
    }

    /// The group's committed offsets (the next offset to consume) for `partitions`; a partition
    /// the group never committed is absent.
    public func committed(_ partitions: [KafkaTopicPartition], timeoutMs: Int32 = 5_000) async throws -> [KafkaTopicPartition: Int64] {
        try await confined.run { try $0.committed(partitions, timeoutMs: timeoutMs) }
    }

    /// Leaves the group cleanly and frees the handle.
    public func close() async {
        _ = try? await confined.run { $0.close() }
        await confined.close()
    }
}

/// Pulls messages with short polls so cancellation is noticed within `pollTimeoutMs`.
public struct KafkaMessageSequence: AsyncSequence, Sendable {
    public typealias Element = KafkaMessage
    let consumer: KafkaConsumer

    public func makeAsyncIterator() -> Iterator { Iterator(consumer: consumer) }

    public struct Iterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        static let pollTimeoutMs: Int32 = 100

        public mutating func next() async throws -> KafkaMessage? {
            while !Task.isCancelled {
                do {
                    if let message = try await consumer.poll(timeoutMs: Self.pollTimeoutMs) { return message }
                } catch let error as KafkaError where error.code == RD_KAFKA_RESP_ERR__DESTROY.rawValue {
                    return nil
                }
            }
            return nil
        }
    }
}

final class ConsumerClient {
    private var handle: OpaquePointer?

    init(configuration: KafkaConfiguration) throws {
        let handle = try makeKafkaHandle(RD_KAFKA_CONSUMER, conf: try configuration.makeConf())
        rd_kafka_poll_set_consumer(handle)
        self.handle = handle
    }

    deinit {
        close()
    }

    func close() {
        guard let handle else { return }
        rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
        self.handle = nil
    }

    private func live() throws -> OpaquePointer {
        guard let handle else { throw KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "consumer is closed") }
        return handle
    }

    func subscribe(_ topics: [String]) throws {
        let handle = try live()
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics {
            rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
        }
        let error = rd_kafka_subscribe(handle, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error) }
    }

    func poll(timeoutMs: Int32) throws -> KafkaMessage? {
        let handle = try live()
        guard let message = rd_kafka_consumer_poll(handle, timeoutMs) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        let error = message.pointee.err
        switch error {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            return KafkaMessage(copying: message)
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            return nil
        default:
            let kafkaError = KafkaError(error)
            // Transient consumer errors (broker down, leader moves) are retried by librdkafka itself.
            if kafkaError.isRetriable { return nil }
            throw kafkaError
        }
    }

    func committed(_ partitions: [KafkaTopicPartition], timeoutMs: Int32) throws -> [KafkaTopicPartition: Int64] {
        let handle = try live()
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for partition in partitions {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)
        }
        let error = rd_kafka_committed(handle, list, timeoutMs)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error) }
        var offsets = [KafkaTopicPartition: Int64]()
        for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].offset >= 0 {
            let element = list.pointee.elems[index]
            offsets[KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)] = element.offset
        }
        return offsets
    }

    func commit(_ offsets: [KafkaTopicPartition: Int64]) throws {
        let handle = try live()
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, nextOffset) in offsets {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!.pointee.offset = nextOffset
        }
        let error = rd_kafka_commit(handle, list, 0)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error) }
    }
}
