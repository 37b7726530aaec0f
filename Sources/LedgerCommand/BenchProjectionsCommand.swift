import ArgumentParser
import Foundation
import Ledger
import Logging
import Projections

/// Measures the relay (events/s into Kafka over the existing ledger) and the projection lag
/// (commit → applied in Redis) while the writer commits at a steady rate.
struct BenchProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-projections",
        abstract: "Benchmark the relay's throughput into Kafka and the projector's lag at a steady write rate.",
        discussion: "Needs LEDGER_KAFKA_BROKERS (the dev broker of `make services-up`). Uses a fresh topic, relay name and Redis namespace.")

    @OptionGroup var connections: ConnectionOptions

    @Option(help: "Reservations per second committed during the lag measurement.")
    var rate = 10_000

    @Option(help: "Seconds of steady writes for the lag measurement.")
    var duration = 20

    @Option(help: "Products the writes are spread over.")
    var products = 10

    @Flag(help: "Skip publishing the existing ledger (the relay throughput phase).")
    var skipRelayPhase = false

    func run() async throws {
        LedgerTool.bootstrapLogging()
        guard !connections.kafkaBrokers.isEmpty else { throw ValidationError("set LEDGER_KAFKA_BROKERS (make services-up writes it to .local/env)") }
        let suffix = String(UInt32.random(in: 0...UInt32.max))
        let kafka = KafkaConfiguration(brokers: connections.kafkaBrokers)
        let database = try await PostgresConnection.connect(url: connections.databaseURL, name: "bench-relay")
        let listener = try await PostgresConnection.connect(url: connections.databaseURL, name: "bench-listener")
        let producer = try KafkaProducer(configuration: OutboxRelay.producerConfiguration(brokers: connections.kafkaBrokers))
        let admin = try await KafkaAdmin.connect(configuration: kafka)
        let limits = Limits()

        if !skipRelayPhase {
            let relay = OutboxRelay(
                name: "bench-\(suffix)", topic: "bench.relay.\(suffix)", database: database, listener: listener, producer: producer, admin: admin,
                limits: limits)
            let start = ContinuousClock.now
            var published = 0
            while case let count = try await relay.publishNextBatch(), count > 0 { published += count }
            let seconds = (ContinuousClock.now - start).milliseconds / 1000
            print("relay: published \(published) ledger events to Kafka in \(String(format: "%.2f", seconds)) s = \(Int(Double(published) / seconds)) events/s")
        }

        // Lag: a relay that starts at today's head, a projector into a fresh namespace.
        let topic = "bench.lag.\(suffix)"
        let relayName = "bench-lag-\(suffix)"
        try await database.query(
            "INSERT INTO relay_checkpoints (relay, topic, position) SELECT $1, $2, position FROM ledger_head", [.text(relayName), .text(topic)])
        let relay = OutboxRelay(name: relayName, topic: topic, database: database, listener: listener, producer: producer, admin: admin, limits: limits)
        let namespace = "bench-\(suffix)"
        let consumer = try await KafkaConsumer.connect(configuration: RedisProjector.consumerConfiguration(brokers: connections.kafkaBrokers), groupID: "bench-\(suffix)")
        try await consumer.subscribe(topics: [topic])
        let projector = RedisProjector(
            consumer: consumer, redis: try await RedisConnection.connect(url: connections.redisURL),
            rebuilder: ProjectionReplayer(
                reader: LedgerReader(connection: try await PostgresConnection.connect(url: connections.databaseURL, name: "bench-rebuild"), limits: limits),
                redis: try await RedisConnection.connect(url: connections.redisURL),
                namespace: namespace, limits: limits),
            namespace: namespace, limits: limits)
        let writer = LedgerWriter(connections: try await LedgerWriter.connections(url: connections.databaseURL, count: limits.writerConnections), limits: limits)
        let sampler = LagSampler(
            database: try await PostgresConnection.connect(url: connections.databaseURL, name: "bench-sampler"),
            redis: try await RedisConnection.connect(url: connections.redisURL), keys: ProjectionKeys(namespace: namespace, generation: 1))
        let metadata = BenchSale.metadata

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await writer.run() }
            group.addTask { try await relay.run() }
            group.addTask { try await projector.run() }
            let productIds = try await BenchSale.listProducts(products, on: writer)
            // Measure a running pipeline: every product's partition is assigned and fetched once
            // a reservation of each product shows in Redis.
            for productId in productIds {
                _ = try await writer.submit(.reserve(.init(
                    reservationId: ReservationID.v7(), productId: productId, userId: 1, quantity: 1, idempotencyKey: nil)), metadata: metadata)
                try await sampler.waitUntilApplied()
            }
            let start = ContinuousClock.now
            let end = start + .seconds(duration)
            async let samples = sampler.sample(until: end)
            let interval = Duration.nanoseconds(1_000_000_000 / rate)
            let committed = await withTaskGroup(of: Bool.self) { requests in
                var sequence = 0
                while start + interval * sequence < end {
                    let intended = start + interval * sequence
                    if intended > .now { try? await Task.sleep(until: intended) }
                    let productId = productIds[sequence % productIds.count]
                    requests.addTask {
                        let command = LedgerCommand.reserve(.init(
                            reservationId: ReservationID.v7(), productId: productId, userId: Int64.random(in: 1...10_000_000),
                            quantity: 1, idempotencyKey: nil))
                        if case .reservation? = try? await writer.submit(command, metadata: metadata) { return true }
                        return false
                    }
                    sequence += 1
                }
                return await requests.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            let lags = try await samples
            let seconds = (ContinuousClock.now - start).milliseconds / 1000
            print("""
                steady writes: \(committed) reservations in \(String(format: "%.1f", seconds)) s \
                = \(Int(Double(committed) / seconds))/s offered \(rate)/s
                projection lag ms (commit → applied in Redis, \(lags.count) samples): p50 \(Percentiles.format(lags, 0.5)), \
                p99 \(Percentiles.format(lags, 0.99)), max \(Percentiles.format(lags, 1))
                """)
            writer.shutdown()
            group.cancelAll()
        }
        await sampler.close()
        await producer.close()
        await admin.close()
        await listener.close()
        await database.close()
    }
}

/// Every 100 ms, takes the newest committed event and waits until the projector applied it.
struct LagSampler: Sendable {
    let database: PostgresConnection
    let redis: RedisConnection
    let keys: ProjectionKeys

    func sample(until end: ContinuousClock.Instant) async throws -> [Double] {
        var lags = [Double]()
        while ContinuousClock.now < end {
            let recordedMs = try await waitUntilApplied()
            lags.append(Double(Timestamp.now().epochMs - recordedMs))
            try await Task.sleep(for: .milliseconds(100))
        }
        return lags
    }

    /// Waits until the newest committed event is applied in Redis; returns its commit time.
    @discardableResult
    func waitUntilApplied() async throws -> Int64 {
        let row = try await database.query(
            "SELECT position, product_id, ledger_ms(recorded_at) AS recorded_ms FROM events ORDER BY position DESC LIMIT 1")[0]
        let position = try row["position"].int64()
        let key = keys.product(try row["product_id"].int64()).config
        while (try await redis.command(["HGET", RedisArgument(key), "applied"]).integer ?? 0) < position {
            try await Task.sleep(for: .milliseconds(1))
        }
        return try row["recorded_ms"].int64()
    }

    func close() async {
        await database.close()
        await redis.close()
    }
}
