import API
import ArgumentParser
import Ledger
import Logging
import Projections
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Connect to PostgreSQL, Redis and Kafka and run the service until SIGTERM.")

    @OptionGroup var connections: ConnectionOptions

    @Flag(inversion: .prefixedNo, help: "Publish the ledger to Kafka (the outbox relay).")
    var relay = true

    @Flag(inversion: .prefixedNo, help: "Apply the topic to the Redis read model.")
    var projector = true

    @Flag(inversion: .prefixedNo, help: "Roll back gate tentatives that never reached the ledger.")
    var reconciler = true

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let logger = Logger(label: "ledger.serve")
        var services: [any Service] = []
        var brokers = connections.kafkaBrokers
        if brokers.isEmpty {
            let cluster = try await KafkaMockCluster.start()
            brokers = cluster.bootstrapServers
            try await cluster.createTopic(connections.kafkaTopic, partitions: 6, replicationFactor: 3)
            services.append(MockClusterService(cluster: cluster))
            logger.warning(
                "LEDGER_KAFKA_BROKERS is not set: using an in-process mock Kafka cluster; its topic does not outlive this process (the ledger keeps every event and the relay republishes)",
                metadata: ["bootstrap": "\(brokers)"])
        }
        let postgres = try await PostgresConnection.connect(url: connections.databaseURL)
        let redis = try await RedisConnection.connect(url: connections.redisURL)
        let kafka = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: brokers))
        let probe = ReadinessProbe(postgres: postgres, redis: redis, kafka: kafka, kafkaTopic: connections.kafkaTopic)
        let report = await probe.check()
        guard report.isReady else {
            for (dependency, failure) in report.failures.sorted(by: { $0.key < $1.key }) {
                logger.error("dependency is not ready", metadata: ["dependency": "\(dependency)", "error": "\(failure)"])
            }
            throw ExitCode(3)
        }
        logger.notice(
            "ready: PostgreSQL, Redis and Kafka answer",
            metadata: ["postgres": "\(postgres.redactedURL)", "redis": "\(ConnectionURL.redacted(connections.redisURL))", "kafka": "\(brokers)"])
        let limits = Limits()
        var producer: KafkaProducer?
        if relay {
            let relayProducer = try KafkaProducer(configuration: OutboxRelay.producerConfiguration(brokers: brokers), name: "relay-producer")
            producer = relayProducer
            services.append(OutboxRelay(
                topic: connections.kafkaTopic,
                database: try await PostgresConnection.connect(url: connections.databaseURL, name: "relay-postgres"),
                listener: try await PostgresConnection.connect(url: connections.databaseURL, name: "relay-listener"),
                producer: relayProducer, admin: kafka, limits: limits))
        }
        if projector {
            let consumer = try await KafkaConsumer.connect(
                configuration: RedisProjector.consumerConfiguration(brokers: brokers), groupID: RedisProjector.groupID, name: "projector-consumer")
            try await consumer.subscribe(topics: [connections.kafkaTopic])
            services.append(RedisProjector(
                consumer: consumer, redis: try await RedisConnection.connect(url: connections.redisURL, name: "projector-redis"),
                limits: limits))
        }
        if reconciler {
            services.append(TentativeReconciler(
                redis: try await RedisConnection.connect(url: connections.redisURL, name: "reconciler-redis"),
                reader: LedgerReader(connection: try await PostgresConnection.connect(url: connections.databaseURL, name: "reconciler-postgres")),
                limits: limits))
        }
        services.append(IdleUntilShutdownService())
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await producer?.close()
        await kafka.close()
        await redis.close()
        await postgres.close()
    }
}

/// Keeps the process serving until a shutdown signal; the HTTP server takes its place.
struct IdleUntilShutdownService: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
