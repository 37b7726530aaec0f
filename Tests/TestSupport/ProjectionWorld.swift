import Foundation
import Ledger
import MetricsTestKit
import Projections

/// The whole projection pipeline for one test: a migrated ledger with its writer, a mock Kafka
/// cluster (in-process, so brokers can be taken down, or a `kafka-dev` process, so the whole
/// broker can be frozen), the relay, the projector and a Redis namespace of its own.
public struct ProjectionWorld: Sendable {
    public let harness: LedgerHarness
    public let fixture: ProjectionFixture
    /// The in-process cluster; nil when the brokers run in `brokerProcess`.
    public let cluster: KafkaMockCluster?
    public let brokerProcess: KafkaDevProcess?
    public let brokers: String
    public let topic: String
    public let relay: OutboxRelay
    public let projector: RedisProjector
    public let database: PostgresConnection
    public let consumer: KafkaConsumer
    /// What the relay and the projector report.
    public let metrics: TestMetrics

    public static func run<T: Sendable>(
        partitions: Int32 = 3, limits: Limits = Limits(), brokersInProcess: Bool = true, _ body: @escaping @Sendable (ProjectionWorld) async throws -> T
    ) async throws -> T {
        try await LedgerHarness.run(limits: limits) { harness in
            try await ProjectionFixture.run { fixture in
                let topic = "ledger.events"
                let cluster = brokersInProcess ? try await KafkaMockCluster.start(brokers: 3) : nil
                try await cluster?.createTopic(topic, partitions: partitions, replicationFactor: 3)
                let brokerProcess = brokersInProcess ? nil : try await KafkaDevProcess.start(topic: topic, partitions: partitions)
                let brokers = cluster?.bootstrapServers ?? brokerProcess!.bootstrapServers
                let database = try await PostgresConnection.connect(url: harness.databaseURL, name: "relay")
                let listener = try await PostgresConnection.connect(url: harness.databaseURL, name: "relay-listener")
                let producer = try KafkaProducer(configuration: OutboxRelay.producerConfiguration(brokers: brokers))
                let admin = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: brokers))
                let consumer = try await KafkaConsumer.connect(
                    configuration: RedisProjector.consumerConfiguration(brokers: brokers, limits: limits), groupID: RedisProjector.groupID(namespace: fixture.namespace))
                try await consumer.subscribe(topics: [topic])
                let metrics = TestMetrics()
                let world = ProjectionWorld(
                    harness: harness, fixture: fixture, cluster: cluster, brokerProcess: brokerProcess, brokers: brokers, topic: topic,
                    relay: OutboxRelay(topic: topic, database: database, listener: listener, producer: producer, admin: admin, limits: limits, metrics: metrics),
                    projector: RedisProjector(
                        consumer: consumer, redis: try await RedisConnection.connect(url: fixture.redisURL),
                        rebuilder: ProjectionReplayer(
                            reader: harness.reader, redis: try await RedisConnection.connect(url: fixture.redisURL), namespace: fixture.namespace,
                            limits: limits),
                        namespace: fixture.namespace, limits: limits, metrics: metrics),
                    database: database, consumer: consumer, metrics: metrics)
                let value: T
                do {
                    value = try await body(world)
                } catch {
                    await world.close(producer: producer, admin: admin, listener: listener)
                    throw error
                }
                await world.close(producer: producer, admin: admin, listener: listener)
                return value
            }
        }
    }

    private func close(producer: KafkaProducer, admin: KafkaAdmin, listener: PostgresConnection) async {
        await consumer.close()
        await producer.close()
        await admin.close()
        await listener.close()
        await database.close()
        await cluster?.stop()
        try? await brokerProcess?.stop()
    }

    /// Lists `products` and runs a mixed, concurrent workload on them: reservations (some with
    /// idempotency keys, some retried), confirmations and cancellations.
    public func runWorkload(products: ClosedRange<Int64> = 1...3, stock: Int64 = 40, users: Int64 = 60) async throws {
        for productId in products {
            _ = try await harness.submit(.listProduct(LedgerHarness.listing(productId: productId, stock: stock, limitPerUser: 3)))
        }
        let reserved = try await withThrowingTaskGroup(of: CommandResult.self) { group in
            for user in 1...users {
                for productId in products {
                    group.addTask {
                        try await harness.reserve(productId: productId, userId: user, quantity: 1 + user % 2, key: user % 3 == 0 ? "k\(productId)" : nil)
                    }
                }
            }
            return try await group.reduce(into: [CommandResult]()) { $0.append($1) }
        }
        for (index, result) in reserved.enumerated() {
            guard let reservation = result.reservation else { continue }
            switch index % 4 {
            case 0:
                _ = try await harness.submit(.confirm(
                    reservationId: reservation.reservationId, userId: nil, orderId: UUID.v7().lowercased, paymentRef: "pay-\(index)"))
            case 1: _ = try await harness.submit(.cancel(reservationId: reservation.reservationId, userId: nil))
            default: break
            }
        }
        _ = try await harness.submit(.addStock(productId: products.lowerBound, quantity: 5))
    }

    /// Lists `productId` with ample stock and reserves one unit for each of 9,000 users: more
    /// than the mock broker keeps in one partition (5 MB), so retention trims its front.
    public func outgrowRetention(productId: Int64) async throws {
        _ = try await harness.submit(.listProduct(LedgerHarness.listing(productId: productId, stock: 1_000_000, limitPerUser: 1)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<32 {
                group.addTask {
                    for user in stride(from: Int64(lane), to: 9_000, by: 32) { _ = try await harness.reserve(productId: productId, userId: user) }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Position of the last ledger event.
    public func head() async throws -> Int64 {
        try await database.query("SELECT position FROM ledger_head")[0]["position"].int64()
    }

    /// Where the relay's checkpoint stands (0 before its first batch).
    public func checkpoint() async throws -> Int64 {
        try await database.query("SELECT coalesce(max(position), 0) AS position FROM relay_checkpoints")[0]["position"].int64()
    }

    /// Per product, the positions the ledger holds, in order.
    public func ledgerPositions() async throws -> [Int64: [Int64]] {
        try await harness.reader.positionsByProduct(through: try await head())
    }

    /// Per product (message key), the `position` headers of the topic in order, read by kcat.
    public func topicPositionsByKcat(brokers: String? = nil) async throws -> [Int64: [Int64]] {
        let result = try await TestServices.run(
            "kcat", ["-b", brokers ?? self.brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k %h\n"])
        guard result.status == 0 else { throw KcatFailed(status: result.status) }
        var positions = [Int64: [Int64]]()
        for line in result.output.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let key = Int64(parts[0]) else { continue }
            let headers = Dictionary(
                parts[1].split(separator: ",").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }.filter { $0.count == 2 }.map { ($0[0], $0[1]) },
                uniquingKeysWith: { first, _ in first })
            if let position = headers["position"].flatMap({ Int64($0) }) { positions[key, default: []].append(position) }
        }
        return positions
    }
}

public struct KcatFailed: Error {
    let status: Int32
}
