import API
import ArgumentParser
import Foundation
import HTTPTypes
import Ledger
import Logging
import Projections
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API with the writer, relay, projector, reconciler and expiry worker until SIGTERM.",
        discussion: "SIGTERM or SIGINT: stop accepting, finish in-flight requests, commit what the writer holds, flush Kafka, exit 0.")

    @OptionGroup var connections: ConnectionOptions
    @OptionGroup var auth: AuthOptions

    @Option(help: "Address to listen on (env LEDGER_HTTP_HOST).")
    var host = ConnectionOptions.environment["LEDGER_HTTP_HOST"] ?? "127.0.0.1"

    @Option(help: "HTTP port (env LEDGER_HTTP_PORT).")
    var port = Int(ConnectionOptions.environment["LEDGER_HTTP_PORT"] ?? "") ?? 8080

    @Flag(inversion: .prefixedNo, help: "Publish the ledger to Kafka (the outbox relay).")
    var relay = true

    @Flag(inversion: .prefixedNo, help: "Apply the topic to the Redis read model.")
    var projector = true

    @Flag(inversion: .prefixedNo, help: "Roll back gate tentatives that never reached the ledger.")
    var reconciler = true

    @Flag(inversion: .prefixedNo, help: "Revert reservations past their expiry.")
    var expiry = true

    @Option(help: "Age in milliseconds after which a gate tentative without a ledger event is rolled back.")
    var reconcilerAgeMs = Limits().reconcilerTentativeAgeMs

    @Flag(help: "List a demo sale (product 1) if there is none and print a curl line that reserves a unit.")
    var demo = false

    @Flag(help: "Allow trusted-header authentication on an address other than loopback (only behind a gateway that strips those headers from clients).")
    var allowTrustedHeadersOnAnyHost = false

    @Option(help: "HTTP connections open at once; more wait in the kernel's backlog.")
    var maxConnections = Limits().httpMaxConnections

    @Option(help: "Milliseconds a connection may stay open without a request.")
    var idleTimeoutMs = Limits().httpIdleTimeoutMs

    func validate() throws {
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
        if auth.authMode == "trusted-header" && !loopback && !allowTrustedHeadersOnAnyHost {
            throw ValidationError(
                "trusted-header authentication believes any client that reaches the port; on \(host) pass --allow-trusted-headers-on-any-host once a gateway strips those headers")
        }
        guard maxConnections > 0, idleTimeoutMs > 0 else { throw ValidationError("--max-connections and --idle-timeout-ms must be positive") }
    }

    func run() async throws {
        LedgerTool.bootstrapLogging()
        // Before any part is made: each takes its metrics from the bootstrapped system.
        let registry = ServiceMetrics.bootstrap()
        let logger = Logger(label: "ledger.serve")
        var limits = Limits()
        limits.httpMaxConnections = maxConnections
        limits.httpIdleTimeoutMs = idleTimeoutMs
        FileDescriptorLimit.raise(toFit: limits.httpMaxConnections, logger: logger)
        limits.reconcilerTentativeAgeMs = reconcilerAgeMs
        // Look at least twice per bound, so an abandoned tentative waits at most 1.5 bounds.
        limits.reconcilerIntervalMs = max(100, min(limits.reconcilerIntervalMs, Int(reconcilerAgeMs / 2)))
        let namespace = connections.redisNamespace
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
        func postgres(_ name: String) async throws -> PostgresConnection {
            try await PostgresConnection.connect(url: connections.databaseURL, name: name)
        }
        func redis(_ name: String) async throws -> RedisConnection {
            try await RedisConnection.connect(url: connections.redisURL, name: name)
        }
        let probePostgres = try await postgres("probe-postgres")
        let probeRedis = try await redis("probe-redis")
        let kafka = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: brokers))
        let probe = ReadinessProbe(postgres: probePostgres, redis: probeRedis, kafka: kafka, kafkaTopic: connections.kafkaTopic)
        func closeProbes() async {
            await kafka.close()
            await probeRedis.close()
            await probePostgres.close()
        }
        let report = await probe.check()
        guard report.isReady else {
            for (dependency, failure) in report.failures.sorted(by: { $0.key < $1.key }) {
                logger.error("dependency is not ready", metadata: ["dependency": "\(dependency)", "error": "\(failure)"])
            }
            await closeProbes()
            throw ExitCode(3)
        }
        let schemaVersion = try await Migrator.appliedSchemaVersion(probePostgres)
        guard schemaVersion >= Migrator.requiredSchemaVersion else {
            logger.error(
                "the database schema is behind this build: run `ledger migrate` first",
                metadata: ["applied": "\(schemaVersion)", "required": "\(Migrator.requiredSchemaVersion)"])
            await closeProbes()
            throw ExitCode(3)
        }

        let writer = LedgerWriter(
            connections: try await LedgerWriter.connections(url: connections.databaseURL, count: limits.writerConnections), limits: limits)
        // The API's reads: clients can ask for as many as they like, so its queue is bounded.
        let reader = LedgerReader(
            connection: try await PostgresConnection.connect(url: connections.databaseURL, name: "reader", maxQueueDepth: limits.readerMaxQueueDepth),
            limits: limits)
        let pool = try await RedisPipelinePool.connect(
            url: connections.redisURL, connections: limits.gateConnections, maxPipelineLength: limits.gateMaxPipelineLength,
            maxQueueDepth: limits.gateMaxQueueDepth, limits: limits)
        let generation = ProjectionGeneration(connection: try await redis("generation"), namespace: namespace, refreshMs: limits.generationRefreshMs)
        var producer: KafkaProducer?
        if relay {
            let relayProducer = try KafkaProducer(configuration: OutboxRelay.producerConfiguration(brokers: brokers), name: "relay-producer")
            producer = relayProducer
            services.append(OutboxRelay(
                topic: connections.kafkaTopic, database: try await postgres("relay"), listener: try await postgres("relay-listener"),
                producer: relayProducer, admin: kafka, limits: limits))
        }
        if projector {
            let consumer = try await KafkaConsumer.connect(
                configuration: RedisProjector.consumerConfiguration(brokers: brokers, limits: limits), groupID: RedisProjector.groupID(namespace: namespace), name: "projector-consumer")
            try await consumer.subscribe(topics: [connections.kafkaTopic])
            let rebuilder = ProjectionReplayer(
                reader: LedgerReader(connection: try await postgres("projector-rebuild"), limits: limits), redis: try await redis("projector-rebuild"),
                namespace: namespace, limits: limits)
            services.append(RedisProjector(
                consumer: consumer, redis: try await redis("projector"), rebuilder: rebuilder, namespace: namespace, limits: limits))
        }
        if reconciler {
            services.append(TentativeReconciler(
                redis: try await redis("reconciler"), namespace: namespace, reader: LedgerReader(connection: try await postgres("reconciler")), limits: limits))
        }
        if expiry {
            services.append(ExpiryWorker(reader: LedgerReader(connection: try await postgres("expiry")), writer: writer, limits: limits))
        }
        let authentication: AuthenticationMode
        if auth.authMode == "trusted-header" {
            authentication = .trustedHeaders(userHeader: HTTPField.Name(auth.trustedUserHeader)!, roleHeader: HTTPField.Name(auth.trustedRoleHeader)!)
            logger.warning(
                "trusted-header authentication: only a gateway that strips these headers from clients may reach this port",
                metadata: ["userHeader": "\(auth.trustedUserHeader)", "roleHeader": "\(auth.trustedRoleHeader)"])
        } else {
            authentication = .bearer(try await auth.tokenAuthority())
        }
        let api = LedgerAPI(.init(
            writer: writer, reader: reader, gate: ReservationGate(pool: pool, generation: generation), redis: probeRedis,
            generation: generation, probe: probe, authentication: authentication, limits: limits, metrics: registry))
        // Shut down in reverse: the HTTP server drains first, then the pool and the writer
        // answer what they hold, then the background services stop.
        let serving: Logger.Metadata = ["postgres": "\(probePostgres.redactedURL)", "kafka": "\(brokers)"]
        services += [writer, pool, api.application(host: host, port: port) { address in
            logger.notice("serving", metadata: serving.merging(["http": "\(address)"]) { $1 })
        }]
        if demo { try await listDemoSale(reader: reader, logger: logger) }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await producer?.close()
        await generation.close()
        await closeProbes()
        logger.notice("stopped")
    }

    /// Product 1 on sale for a day with 100 units (unless it exists), and how to buy one.
    private func listDemoSale(reader: LedgerReader, logger: Logger) async throws {
        var state = "already listed"
        if try await reader.product(1) == nil {
            let now = Timestamp.now()
            let listing = ProductListed(
                productId: 1, name: "Demo phone", priceMinor: 199_900, currency: "EUR", stock: 100, startsAt: now.adding(seconds: -60),
                endsAt: now.adding(seconds: 86_400), limitPerUser: 2, reservationTTLSeconds: 900)
            // A writer of its own for one command, before the service's writer runs.
            let connection = try await PostgresConnection.connect(url: connections.databaseURL, name: "demo")
            let writer = LedgerWriter(connection: connection)
            async let running: Void = writer.run()
            let result = try await writer.submit(.listProduct(listing), metadata: EventMetadata(actor: "system:demo"))
            writer.shutdown()
            try await running
            await connection.close()
            state = result.rejection.map { "not listed: \($0)" } ?? "listed"
        }
        let token = try await auth.tokenAuthority().token(userId: 42, admin: false, ttlSeconds: 86_400)
        let text = """

            Demo sale: product 1 (\(state)). Reserve a unit as user 42:

              curl -s -X POST http://\(host):\(port)/v1/seckill -H 'Authorization: Bearer \(token)' \\
                -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' -d '{"productId":1,"quantity":1}'

            """
        // Written straight to fd 1: print's buffer would hold the line until exit on a pipe.
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
        logger.info("demo sale ready")
    }
}
