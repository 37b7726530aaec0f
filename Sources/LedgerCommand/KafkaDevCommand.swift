import ArgumentParser
import Foundation
import Ledger
import Logging
import Projections
import ServiceLifecycle
import UnixSignals

struct KafkaDevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-dev",
        abstract: "Run librdkafka's mock Kafka cluster on loopback until SIGTERM/SIGINT (development and tests only).",
        discussion: "SIGUSR1 takes every broker down (connections closed, new ones refused), SIGUSR2 brings them up again.")

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
                services: [MockClusterService(cluster: cluster), BrokerSignalService(cluster: cluster, brokers: brokers, logger: logger)],
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

/// Takes every broker of the mock cluster down on SIGUSR1 and up again on SIGUSR2, so that a
/// test or a chaos run can fail the brokers of a `ledger kafka-dev` process.
struct BrokerSignalService: Service {
    let cluster: KafkaMockCluster
    let brokers: Int32
    let logger: Logger

    func run() async throws {
        for await signal in await UnixSignalsSequence(trapping: .sigusr1, .sigusr2).cancelOnGracefulShutdown() {
            let down = signal == .sigusr1
            for broker in 1...brokers {
                do {
                    if down { try await cluster.setBrokerDown(broker) } else { try await cluster.setBrokerUp(broker) }
                } catch {
                    logger.warning("could not set a broker \(down ? "down" : "up")", metadata: ["broker": "\(broker)", "error": "\(error)"])
                }
            }
            logger.notice(down ? "every broker is down (SIGUSR1)" : "every broker is up (SIGUSR2)")
        }
    }
}
