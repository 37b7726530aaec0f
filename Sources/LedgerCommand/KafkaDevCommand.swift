import ArgumentParser
import Foundation
import Ledger
import Logging
import Projections
import ServiceLifecycle

struct KafkaDevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-dev",
        abstract: "Run librdkafka's mock Kafka cluster on loopback until SIGTERM/SIGINT (development and tests only).")

    @Option(help: "Number of mock brokers.")
    var brokers = Limits().devKafkaBrokers

    @Option(help: "Write the bootstrap address to this file once the cluster is up.")
    var bootstrapFile: String?

    @Option(help: "Create this topic up front (repeatable).")
    var topic: [String] = []

    @Option(help: "Partitions for topics created up front.")
    var partitions = Limits().devTopicPartitions

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let logger = Logger(label: "ledger.kafka-dev")
        let cluster = try await KafkaMockCluster.start(brokers: brokers)
        for name in topic {
            try await cluster.createTopic(name, partitions: partitions, replicationFactor: min(3, brokers))
        }
        if let bootstrapFile {
            try (cluster.bootstrapServers + "\n").write(toFile: bootstrapFile, atomically: true, encoding: .utf8)
        }
        print(cluster.bootstrapServers)
        logger.notice(
            "mock Kafka cluster is up; its topics do not outlive this process",
            metadata: ["bootstrap": "\(cluster.bootstrapServers)", "brokers": "\(brokers)"])
        let group = ServiceGroup(
            configuration: .init(
                services: [MockClusterService(cluster: cluster)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

/// Keeps the mock cluster up until graceful shutdown, then stops it.
struct MockClusterService: Service {
    let cluster: KafkaMockCluster

    func run() async throws {
        try? await gracefulShutdown()
        await cluster.stop()
    }
}
