import Hummingbird
import Ledger
import Logging
import Prometheus
import Projections
import ServiceLifecycle

/// The whole service of one node, assembled in one place: the writer, the API's reader, the
/// gate's pipeline pool, the relay, the projector, the reconciler, the expiry worker and the
/// HTTP API. `ledger serve` runs it; tests build it the same way.
public final class LedgerSystem: Sendable {
    /// The background parts a node runs besides the API (all by default).
    public struct Components: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }

        /// Publishes the ledger to Kafka.
        public static let relay = Components(rawValue: 1 << 0)
        /// Applies the topic to the Redis read model.
        public static let projector = Components(rawValue: 1 << 1)
        /// Rolls back gate tentatives that never reached the ledger.
        public static let reconciler = Components(rawValue: 1 << 2)
        /// Reverts reservations past their expiry.
        public static let expiry = Components(rawValue: 1 << 3)
        public static let all: Components = [.relay, .projector, .reconciler, .expiry]
    }

    public struct Configuration: Sendable {
        public var databaseURL: String
        public var redisURL: String
        public var redisNamespace: String
        public var kafkaBrokers: String
        public var kafkaTopic: String
        public var authentication: AuthenticationMode
        public var components: Components
        public var limits: Limits

        public init(
            databaseURL: String, redisURL: String, redisNamespace: String = ProjectionKeys.defaultNamespace, kafkaBrokers: String,
            kafkaTopic: String, authentication: AuthenticationMode, components: Components = .all, limits: Limits = Limits()
        ) {
            self.databaseURL = databaseURL
            self.redisURL = redisURL
            self.redisNamespace = redisNamespace
            self.kafkaBrokers = kafkaBrokers
            self.kafkaTopic = kafkaTopic
            self.authentication = authentication
            self.components = components
            self.limits = limits
        }
    }

    /// Why a node cannot start: a dependency that does not answer, or a schema behind the build.
    public enum StartError: Error, CustomStringConvertible {
        case notReady(failures: [String: String])
        case schemaBehind(applied: Int, required: Int)

        public var description: String {
            switch self {
            case .notReady(let failures):
                "dependencies not ready: " + failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
            case .schemaBehind(let applied, let required):
                "the database schema (version \(applied)) is behind this build (\(required)): run `ledger migrate` first"
            }
        }
    }

    public let writer: LedgerWriter
    public let reader: LedgerReader
    public let gatePool: RedisPipelinePool
    public let breaker: GateBreaker
    public let api: LedgerAPI
    /// What runs until shutdown besides the HTTP server, in the order they stop after it: the
    /// read-model watch, the relay, the projector, the reconciler and the expiry worker, then the
    /// pool and the writer.
    public let services: [any Service]
    private let closers: ResourceClosers

    private init(
        writer: LedgerWriter, reader: LedgerReader, gatePool: RedisPipelinePool, breaker: GateBreaker, api: LedgerAPI, services: [any Service],
        closers: ResourceClosers
    ) {
        self.writer = writer
        self.reader = reader
        self.gatePool = gatePool
        self.breaker = breaker
        self.api = api
        self.services = services
        self.closers = closers
    }

    /// Checks the dependencies and the schema, then opens every connection the node needs.
    /// On any failure, what was opened is closed again.
    public static func start(
        _ configuration: Configuration, metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        logger: Logger = Logger(label: "ledger.system")
    ) async throws -> LedgerSystem {
        let closers = ResourceClosers()
        do {
            return try await assemble(configuration, metrics: metrics, logger: logger, closers: closers)
        } catch {
            await closers.closeAll()
            throw error
        }
    }

    private static func assemble(
        _ configuration: Configuration, metrics: PrometheusCollectorRegistry, logger: Logger, closers: ResourceClosers
    ) async throws -> LedgerSystem {
        let limits = configuration.limits
        let namespace = configuration.redisNamespace
        func postgres(_ name: String, maxQueueDepth: Int? = nil, answerTimeoutMs: Int? = nil) async throws -> PostgresConnection {
            let connection = try await PostgresConnection.connect(
                url: configuration.databaseURL, name: name, maxQueueDepth: maxQueueDepth, answerTimeoutMs: answerTimeoutMs)
            await closers.add { await connection.close() }
            return connection
        }
        // A Redis that cannot be reached yet is connected to on first use: the node starts degraded.
        func redis(_ name: String, timeoutMs: Int = limits.redisConnectTimeoutMs) async throws -> RedisConnection {
            let connection = try await RedisConnection.connect(url: configuration.redisURL, timeoutMs: timeoutMs, name: name, requireServer: false)
            await closers.add { await connection.close() }
            return connection
        }

        // Connections a request waits on give up on a frozen database (503, not a hang).
        let probePostgres = try await postgres("probe-postgres", answerTimeoutMs: limits.postgresAnswerTimeoutMs)
        // Connections on the request path give up on a frozen Redis quickly; the request goes on without it.
        let probeRedis = try await redis("probe-redis", timeoutMs: limits.redisRequestTimeoutMs)
        let kafka = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: configuration.kafkaBrokers))
        await closers.add { await kafka.close() }
        let probe = ReadinessProbe(postgres: probePostgres, redis: probeRedis, kafka: kafka, kafkaTopic: configuration.kafkaTopic, limits: limits)
        let report = await probe.check()
        // Without PostgreSQL nothing can be decided. Redis and Kafka may come later: the node
        // starts degraded (the gate's breaker opens, the relay and the projector wait).
        if let failure = report.failures["postgres"] { throw StartError.notReady(failures: ["postgres": failure]) }
        for (dependency, failure) in report.failures.sorted(by: { $0.key < $1.key }) {
            logger.warning("starting degraded: \(dependency) does not answer", metadata: ["error": "\(failure)"])
        }
        let schemaVersion = try await Migrator.appliedSchemaVersion(probePostgres)
        guard schemaVersion >= Migrator.requiredSchemaVersion else {
            throw StartError.schemaBehind(applied: Int(schemaVersion), required: Int(Migrator.requiredSchemaVersion))
        }

        let writerConnections = try await LedgerWriter.connections(url: configuration.databaseURL, count: limits.writerConnections, limits: limits)
        await closers.add { for connection in writerConnections { await connection.close() } }
        let writer = LedgerWriter(connections: writerConnections, limits: limits)
        // The API's reads: clients can ask for as many as they like, so its queue is bounded.
        let reader = LedgerReader(connection: try await postgres("reader", maxQueueDepth: limits.readerMaxQueueDepth, answerTimeoutMs: limits.postgresAnswerTimeoutMs), limits: limits)
        let pool = try await RedisPipelinePool.connect(
            url: configuration.redisURL, connections: limits.gateConnections, maxPipelineLength: limits.gateMaxPipelineLength,
            maxQueueDepth: limits.gateMaxQueueDepth, limits: limits, requireServer: false)
        await closers.add { pool.shutdown() }
        let generation = ProjectionGeneration(
            connection: try await redis("generation", timeoutMs: limits.redisRequestTimeoutMs), namespace: namespace, refreshMs: limits.generationRefreshMs)
        let breaker = GateBreaker(limits: limits)
        let watch = ReadModelWatch(
            redis: try await redis("read-model-watch", timeoutMs: limits.redisRequestTimeoutMs),
            // The API's reader: the watch reads the ledger only when the model is missing, and a
            // rebuild's pages leave room for the API's reads between them.
            reader: reader,
            replayer: ProjectionReplayer(
                reader: reader,
                redis: try await redis("read-model-rebuild", timeoutMs: limits.replayRedisTimeoutMs), namespace: namespace, limits: limits),
            breaker: breaker, namespace: namespace, limits: limits)
        // Without Redis now, the watch marks (or rebuilds) the model once Redis answers.
        try? await watch.markIfLedgerEmpty()

        var services: [any Service] = [watch]
        if configuration.components.contains(.relay) {
            let producer = try KafkaProducer(configuration: OutboxRelay.producerConfiguration(brokers: configuration.kafkaBrokers), name: "relay-producer")
            await closers.add { await producer.close() }
            services.append(OutboxRelay(
                topic: configuration.kafkaTopic, database: try await postgres("relay"), listener: try await postgres("relay-listener"),
                producer: producer, admin: kafka, limits: limits))
        }
        if configuration.components.contains(.projector) {
            let consumer = try await KafkaConsumer.connect(
                configuration: RedisProjector.consumerConfiguration(brokers: configuration.kafkaBrokers, limits: limits),
                groupID: RedisProjector.groupID(namespace: namespace), name: "projector-consumer")
            await closers.add { await consumer.close() }
            try await consumer.subscribe(topics: [configuration.kafkaTopic])
            let rebuilder = ProjectionReplayer(
                reader: LedgerReader(connection: try await postgres("projector-rebuild"), limits: limits), redis: try await redis("projector-rebuild"),
                namespace: namespace, limits: limits)
            services.append(RedisProjector(consumer: consumer, redis: try await redis("projector"), rebuilder: rebuilder, namespace: namespace, limits: limits))
        }
        if configuration.components.contains(.reconciler) {
            services.append(TentativeReconciler(
                redis: try await redis("reconciler"), namespace: namespace, reader: LedgerReader(connection: try await postgres("reconciler")), limits: limits))
        }
        if configuration.components.contains(.expiry) {
            services.append(ExpiryWorker(reader: LedgerReader(connection: try await postgres("expiry")), writer: writer, limits: limits))
        }
        let api = LedgerAPI(.init(
            writer: writer, reader: reader, gate: ReservationGate(pool: pool, generation: generation), breaker: breaker, redis: probeRedis,
            generation: generation, probe: probe, authentication: configuration.authentication, limits: limits, metrics: metrics))
        // After the HTTP server drains, the pool and the writer answer what they hold; the
        // background services stop alongside.
        services += [writer, pool]
        return LedgerSystem(writer: writer, reader: reader, gatePool: pool, breaker: breaker, api: api, services: services, closers: closers)
    }

    /// The HTTP server on `host:port` (a `Service`; run it last so that it stops first).
    public func application(host: String, port: Int, onServerRunning: @escaping @Sendable (_ address: String) async -> Void = { _ in }) -> some Service {
        api.application(host: host, port: port, onServerRunning: onServerRunning)
    }

    /// Closes every connection the node opened; call it after its services stopped.
    public func close() async {
        await closers.closeAll()
    }
}

/// What a partly or fully assembled system must close, in reverse order of opening. Closing a
/// connection a service already closed when it stopped does nothing.
actor ResourceClosers {
    private var closers: [@Sendable () async -> Void] = []

    func add(_ closer: @escaping @Sendable () async -> Void) {
        closers.append(closer)
    }

    func closeAll() async {
        while let closer = closers.popLast() { await closer() }
    }
}
