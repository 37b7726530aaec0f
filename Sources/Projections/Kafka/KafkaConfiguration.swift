import CRdKafka

/// librdkafka properties (`bootstrap.servers`, `acks`, …). Applied when a client is created.
public struct KafkaConfiguration: Sendable {
    public var properties: [String: String]

    /// What every client of the service uses unless told otherwise: after an outage of any
    /// length a client reconnects within a second of the broker's return (librdkafka's
    /// default backoff grows to 10 s, which a consumer group pays again on every rejoin step).
    public static let defaults = ["reconnect.backoff.max.ms": "1000"]

    public init(brokers: String, _ properties: [String: String] = [:]) {
        self.properties = Self.defaults.merging(properties) { _, given in given }
        self.properties["bootstrap.servers"] = brokers
    }

    public subscript(key: String) -> String? {
        get { properties[key] }
        set { properties[key] = newValue }
    }

    /// A new `rd_kafka_conf_t` owned by the caller (consumed by `rd_kafka_new`).
    func makeConf() throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                // The value is left out: it may be a secret (sasl.password).
                throw KafkaError(configuration: "\(key): " + kafkaErrorText(errorText))
            }
        }
        return conf
    }
}

/// Creates an `rd_kafka_t` from a configured conf; frees the conf on failure.
func makeKafkaHandle(_ type: rd_kafka_type_t, conf: OpaquePointer) throws -> OpaquePointer {
    var errorText = [CChar](repeating: 0, count: 512)
    guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
        rd_kafka_conf_destroy(conf)
        throw KafkaError(configuration: kafkaErrorText(errorText))
    }
    return handle
}

/// The NUL-terminated message librdkafka wrote into an `errstr` buffer.
func kafkaErrorText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
