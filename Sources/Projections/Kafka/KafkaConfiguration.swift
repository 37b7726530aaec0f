import CRdKafka

/// librdkafka properties (`bootstrap.servers`, `acks`, …). Applied when a client is created.
public struct KafkaConfiguration: Sendable {
    public var properties: [String: String]

    public init(brokers: String, _ properties: [String: String] = [:]) {
        self.properties = properties
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
