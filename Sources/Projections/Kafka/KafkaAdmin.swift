import CRdKafka
import Ledger

/// Topic administration and offset queries. Its calls wait for brokers, so they run on the
/// admin client's own thread.
public final class KafkaAdmin: Sendable {
    private let confined: ThreadConfined<AdminClient>

    private init(confined: ThreadConfined<AdminClient>) {
        self.confined = confined
    }

    public static func connect(configuration: KafkaConfiguration, name: String = "kafka-admin") async throws -> KafkaAdmin {
        let confined = try await ThreadConfined.open(
            name: name,
            closedError: { KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "admin client is closed") },
            { try AdminClient(configuration: configuration) })
        return KafkaAdmin(confined: confined)
    }

    /// Creates a topic; an existing topic is not an error.
    public func createTopic(_ topic: String, partitions: Int32, replicationFactor: Int32, timeoutMs: Int32 = Limits().kafkaCreateTopicTimeoutMs) async throws {
        try await confined.run { try $0.createTopic(topic, partitions: partitions, replicationFactor: replicationFactor, timeoutMs: timeoutMs) }
    }

    /// Number of partitions of `topic` from cluster metadata (nil when the topic does not exist).
    public func partitionCount(_ topic: String, timeoutMs: Int32 = Limits().kafkaRequestTimeoutMs) async throws -> Int32? {
        try await confined.run { try $0.partitionCount(topic, timeoutMs: timeoutMs) }
    }

    /// Low and high watermark offsets of one partition.
    public func watermarks(topic: String, partition: Int32, timeoutMs: Int32 = Limits().kafkaRequestTimeoutMs) async throws -> (low: Int64, high: Int64) {
        try await confined.run { try $0.watermarks(topic: topic, partition: partition, timeoutMs: timeoutMs) }
    }

    public func close() async {
        await confined.close()
    }
}

final class AdminClient {
    private let handle: OpaquePointer

    init(configuration: KafkaConfiguration) throws {
        handle = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: try configuration.makeConf())
    }

    deinit {
        rd_kafka_destroy(handle)
    }

    func createTopic(_ topic: String, partitions: Int32, replicationFactor: Int32, timeoutMs: Int32) throws {
        var errorText = [CChar](repeating: 0, count: 512)
        guard let newTopic = rd_kafka_NewTopic_new(topic, partitions, replicationFactor, &errorText, errorText.count) else {
            throw KafkaError(configuration: kafkaErrorText(errorText))
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        let queue = rd_kafka_queue_new(handle)!
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, nil, 0)
        rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, nil, 0)
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(handle, &topics, 1, options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1_000) else {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, "CreateTopics \(topic) timed out")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(eventError, String(cString: rd_kafka_event_error_string(event)))
        }
        var count = 0
        guard let result = rd_kafka_event_CreateTopics_result(event),
            let results = rd_kafka_CreateTopics_result_topics(result, &count)
        else { return }
        for index in 0..<count {
            let error = rd_kafka_topic_result_error(results[index])
            if error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
                throw KafkaError(error, rd_kafka_topic_result_error_string(results[index]).map { String(cString: $0) })
            }
        }
    }

    func partitionCount(_ topic: String, timeoutMs: Int32) throws -> Int32? {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let error = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMs)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(error) }
        defer { rd_kafka_metadata_destroy(metadata) }
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let entry = metadata.pointee.topics[index]
            if String(cString: entry.topic) == topic {
                return entry.err == RD_KAFKA_RESP_ERR_NO_ERROR ? entry.partition_cnt : nil
            }
        }
        return nil
    }

    func watermarks(topic: String, partition: Int32, timeoutMs: Int32) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let error = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMs)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error) }
        return (low, high)
    }
}
