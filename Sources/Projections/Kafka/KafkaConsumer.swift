import CRdKafka
import Ledger

/// A group consumer with manual offset commits (`enable.auto.commit=false`): a message counts
/// as consumed only once `commit` says so, so a crash re-delivers instead of losing.
/// Every librdkafka call, including the blocking poll, runs on the consumer's own thread.
///
/// Rebalances (a rejoin after the group forgot this member included) are served only while
/// the consumer polls: a caller that stops polling to retry something stays out of its group.
public final class KafkaConsumer: Sendable {
    private let confined: ThreadConfined<ConsumerClient>
    private let observer: KafkaRebalanceObserver

    private init(confined: ThreadConfined<ConsumerClient>, observer: KafkaRebalanceObserver) {
        self.confined = confined
        self.observer = observer
    }

    /// Membership, lost assignments and lag as of the last poll.
    public var groupStatus: KafkaGroupStatus { observer.status }

    public static func connect(
        configuration: KafkaConfiguration, groupID: String, name: String = "kafka-consumer"
    ) async throws -> KafkaConsumer {
        var configuration = configuration
        configuration["group.id"] = groupID
        configuration["enable.auto.commit"] = "false"
        if configuration["auto.offset.reset"] == nil { configuration["auto.offset.reset"] = "earliest" }
        let finalConfiguration = configuration
        let observer = KafkaRebalanceObserver()
        let confined = try await ThreadConfined.open(
            name: name,
            closedError: { KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "consumer is closed") },
            { try ConsumerClient(configuration: finalConfiguration, observer: observer) })
        return KafkaConsumer(confined: confined, observer: observer)
    }

    public func subscribe(topics: [String]) async throws {
        try await confined.run { try $0.subscribe(topics) }
    }

    /// Reads the given partitions from the given offsets, outside any group assignment (no
    /// join, no rebalance): for one-off reads such as the topic audit.
    public func assign(_ offsets: [KafkaTopicPartition: Int64]) async throws {
        try await confined.run { try $0.assign(offsets) }
    }

    /// The next message, or nil when none arrived within `timeoutMs`.
    public func poll(timeoutMs: Int32) async throws -> KafkaMessage? {
        try await confined.run { try $0.poll(timeoutMs: timeoutMs) }
    }

    /// Up to `maxMessages` messages in one hop to the consumer's thread: waits up to `timeoutMs`
    /// for the first, then takes only what is already fetched. Updates `groupStatus`' lag.
    public func poll(maxMessages: Int, timeoutMs: Int32) async throws -> [KafkaMessage] {
        let observer = self.observer
        return try await confined.run { client in
            var messages = [KafkaMessage]()
            while messages.count < maxMessages, let message = try client.poll(timeoutMs: messages.isEmpty ? timeoutMs : 0) {
                messages.append(message)
            }
            if let lag = client.lagMessages() { observer.recordLag(lag) }
            return messages
        }
    }

    /// Commits `message.offset + 1` for its partition, synchronously with the group coordinator.
    public func commit(_ message: KafkaMessage) async throws {
        try await commit([message])
    }

    /// Commits, for each partition, the offset after the last of `messages` in it. With
    /// `waitForAcknowledgement` false the commit is only queued: it never blocks the consumer's
    /// thread behind a frozen coordinator, and its outcome lands in `groupStatus.failedCommits`.
    public func commit(_ messages: [KafkaMessage], waitForAcknowledgement: Bool = true) async throws {
        var next = [KafkaTopicPartition: Int64]()
        for message in messages {
            let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
            next[partition] = max(next[partition] ?? 0, message.offset + 1)
        }
        guard !next.isEmpty else { return }
        let offsets = next
        try await confined.run { try $0.commit(offsets, waitForAcknowledgement: waitForAcknowledgement) }
    }

    /// The group's committed offsets (the next offset to consume) for `partitions`; a partition
    /// the group never committed is absent.
    public func committed(_ partitions: [KafkaTopicPartition], timeoutMs: Int32 = Limits().kafkaRequestTimeoutMs) async throws -> [KafkaTopicPartition: Int64] {
        try await confined.run { try $0.committed(partitions, timeoutMs: timeoutMs) }
    }

    /// Leaves the group cleanly and frees the handle.
    public func close() async {
        _ = try? await confined.run { $0.close() }
        await confined.close()
    }
}

final class ConsumerClient {
    private var handle: OpaquePointer?
    /// Held for as long as the handle: librdkafka calls back into it.
    private let observer: KafkaRebalanceObserver

    init(configuration: KafkaConfiguration, observer: KafkaRebalanceObserver) throws {
        let conf = try configuration.makeConf()
        observer.install(on: conf)
        let handle = try makeKafkaHandle(RD_KAFKA_CONSUMER, conf: conf)
        rd_kafka_poll_set_consumer(handle)
        self.handle = handle
        self.observer = observer
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

    func assign(_ offsets: [KafkaTopicPartition: Int64]) throws {
        let handle = try live()
        let list = Self.partitionList(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_assign(handle, list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error) }
    }

    private static func partitionList(_ offsets: [KafkaTopicPartition: Int64]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        for (partition, offset) in offsets {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!.pointee.offset = offset
        }
        return list
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

    /// Messages past the position summed over the assignment, from the watermarks the last
    /// fetches brought (no request); nil when the consumer has no assignment to measure.
    func lagMessages() -> Int64? {
        guard let handle else { return nil }
        var assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let assignment else { return nil }
        defer { rd_kafka_topic_partition_list_destroy(assignment) }
        guard assignment.pointee.cnt > 0, rd_kafka_position(handle, assignment) == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var lag: Int64 = 0
        for index in 0..<Int(assignment.pointee.cnt) {
            let element = assignment.pointee.elems[index]
            var low: Int64 = 0
            var high: Int64 = 0
            // A partition not fetched yet has no position and no watermarks: nothing to count.
            guard element.offset >= 0, rd_kafka_get_watermark_offsets(handle, element.topic, element.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR,
                high >= 0
            else { continue }
            lag += max(0, high - element.offset)
        }
        return lag
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
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            // A partition's own error (coordinator moving, timeout) must not read as "never committed".
            guard element.err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(element.err) }
            guard element.offset >= 0 else { continue }
            offsets[KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)] = element.offset
        }
        return offsets
    }

    func commit(_ offsets: [KafkaTopicPartition: Int64], waitForAcknowledgement: Bool) throws {
        let handle = try live()
        let list = Self.partitionList(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let error = rd_kafka_commit(handle, list, waitForAcknowledgement ? 0 : 1)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error) }
    }
}
