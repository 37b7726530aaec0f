import CRdKafka

/// An operating error from librdkafka, with its error name (`_MSG_TIMED_OUT`, `NOT_LEADER_…`).
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// librdkafka's `rd_kafka_resp_err_t` value.
    public let code: Int32
    public let name: String
    public let message: String

    init(_ error: rd_kafka_resp_err_t, _ message: String? = nil) {
        code = error.rawValue
        name = String(cString: rd_kafka_err2name(error))
        self.message = message ?? String(cString: rd_kafka_err2str(error))
    }

    init(configuration message: String) {
        code = RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue
        name = "_INVALID_ARG"
        self.message = message
    }

    /// A wait for the brokers that ran out (`_TIMED_OUT`), with what was waited for.
    static func timedOut(_ message: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, message)
    }

    /// Errors a later attempt can get past: timeouts, brokers down, full local queue, leader moves.
    public var isRetriable: Bool {
        let retriable: [rd_kafka_resp_err_t] = [
            RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT,
            RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__QUEUE_FULL,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
        ]
        return retriable.contains { $0.rawValue == code }
    }

    /// The topic or partition does not exist (yet).
    public var isUnknownTopicOrPartition: Bool {
        code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue || code == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC.rawValue
            || code == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION.rawValue
    }

    public var description: String { "Kafka \(name): \(message)" }
}
