import CRdKafka
import Ledger

/// librdkafka's in-process mock Kafka cluster: real Kafka protocol on loopback ports, for
/// development (`ledger kafka-dev`) and tests. Its topics live only as long as the process.
public final class KafkaMockCluster: Sendable {
    private let confined: ThreadConfined<MockClusterHandle>
    /// Comma-separated `127.0.0.1:port` list to use as `bootstrap.servers`.
    public let bootstrapServers: String

    private init(confined: ThreadConfined<MockClusterHandle>, bootstrapServers: String) {
        self.confined = confined
        self.bootstrapServers = bootstrapServers
    }

    public static func start(brokers: Int32 = 3) async throws -> KafkaMockCluster {
        let confined = try await ThreadConfined.open(
            name: "kafka-mock-cluster",
            closedError: { KafkaError(RD_KAFKA_RESP_ERR__DESTROY, "mock cluster is stopped") },
            { try MockClusterHandle(brokers: brokers) })
        let bootstraps = try await confined.run { $0.bootstrapServers }
        return KafkaMockCluster(confined: confined, bootstrapServers: bootstraps)
    }

    public func createTopic(_ topic: String, partitions: Int32, replicationFactor: Int32) async throws {
        try await confined.run { try $0.check(rd_kafka_mock_topic_create($0.cluster, topic, partitions, replicationFactor)) }
    }

    public func setPartitionLeader(topic: String, partition: Int32, brokerID: Int32) async throws {
        try await confined.run { try $0.check(rd_kafka_mock_partition_set_leader($0.cluster, topic, partition, brokerID)) }
    }

    /// Takes a broker off the network (connections closed, new ones refused) until `setBrokerUp`.
    public func setBrokerDown(_ brokerID: Int32) async throws {
        try await confined.run { try $0.check(rd_kafka_mock_broker_set_down($0.cluster, brokerID)) }
    }

    public func setBrokerUp(_ brokerID: Int32) async throws {
        try await confined.run { try $0.check(rd_kafka_mock_broker_set_up($0.cluster, brokerID)) }
    }

    public func stop() async {
        await confined.close()
    }
}

final class MockClusterHandle {
    private let owner: OpaquePointer
    let cluster: OpaquePointer

    init(brokers: Int32) throws {
        let conf = try KafkaConfiguration(brokers: "", ["log_level": "3"]).makeConf()
        owner = try makeKafkaHandle(RD_KAFKA_PRODUCER, conf: conf)
        guard let cluster = rd_kafka_mock_cluster_new(owner, brokers) else {
            rd_kafka_destroy(owner)
            throw KafkaError(RD_KAFKA_RESP_ERR__FAIL, "could not start the mock cluster")
        }
        self.cluster = cluster
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(owner)
    }

    var bootstrapServers: String {
        String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    func check(_ error: rd_kafka_resp_err_t) throws {
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(error) }
    }
}
