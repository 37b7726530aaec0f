import Foundation
import Ledger
import MetricsTestKit
import Projections
import TestSupport
import Testing

/// Relay → mock Kafka → projector → Redis, compared with the fold of the ledger.
@Suite(.timeLimit(.minutes(3))) struct RedisProjectorTests {
    private func auditor(_ world: ProjectionWorld) -> LedgerAuditor {
        LedgerAuditor(reader: world.harness.reader, namespace: world.fixture.namespace)
    }

    /// A second projector (its own consumer group and Redis connection) and the whole topic
    /// as that group receives it.
    private func secondProjector(
        _ world: ProjectionWorld, limits: Limits = Limits(), metrics: TestMetrics = TestMetrics()
    ) async throws -> (RedisProjector, [KafkaMessage]) {
        let expected = try await world.harness.reader.positionsByProduct(through: world.head()).values.reduce(0) { $0 + $1.count }
        let consumer = try await KafkaConsumer.connect(configuration: KafkaConfiguration(brokers: world.brokers), groupID: TestServices.uniqueName("again"))
        try await consumer.subscribe(topics: [world.topic])
        var messages = [KafkaMessage]()
        let deadline = ContinuousClock.now + .seconds(60)
        while messages.count < expected, ContinuousClock.now < deadline {
            messages += try await consumer.poll(maxMessages: 1_000, timeoutMs: 200)
        }
        let projector = RedisProjector(
            consumer: consumer, redis: try await RedisConnection.connect(url: world.fixture.redisURL),
            rebuilder: ProjectionReplayer(reader: world.harness.reader, redis: world.fixture.redis, namespace: world.fixture.namespace),
            namespace: world.fixture.namespace, limits: limits, metrics: metrics)
        return (projector, messages)
    }

    @Test func theProjectionEqualsTheLedgerAndRedeliveryChangesNoByte() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...3)
            let report = try await withRunning([world.relay, world.projector]) {
                try await world.runWorkload(products: 4...5)
                return try await auditor(world).audit(
                    redis: world.fixture.redis, kafka: .init(configuration: KafkaConfiguration(brokers: world.brokers), topic: world.topic), projectionWaitMs: 30_000)
            }
            #expect(report.eventCount > 200)
            #expect(report.differences == [], "tables, Redis and the topic all agree with the events")
            // At least once: a round the relay retried publishes its events again.
            #expect(try world.metrics.expectCounter("ledger_relay_published_events_total").totalValue >= Int64(report.eventCount))
            #expect(try world.metrics.expectGauge("ledger_relay_delivered_position").lastValue == Double(try await world.head()))

            let once = try await world.fixture.dump()
            #expect(!once.isEmpty)
            // The same messages again, out of a second consumer group, then once more backwards.
            let metrics = TestMetrics()
            let (second, messages) = try await secondProjector(world, metrics: metrics)
            #expect(messages.count == report.eventCount)
            #expect(try await second.apply(messages) == 0)
            #expect(try await second.apply(messages.reversed()) == 0)
            // Applied twice, changing nothing the second time: counted as applied all the same.
            #expect(try metrics.expectCounter("ledger_projector_applied_events_total").totalValue == Int64(2 * messages.count))
            #expect(try metrics.expectGauge("ledger_projector_applied_position").lastValue == Double(try await world.head()))
            #expect(try await world.fixture.dump() == once, "Redis is byte for byte what one delivery left")
            await second.close()
        }
    }

    @Test func aProductsEventsAppliedSeveralToAScriptCallLeaveWhatOneAtATimeLeaves() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...2)
            while try await world.relay.publishNextBatch() > 0 {}
            var one = Limits(), three = Limits()
            one.projectorEventsPerScriptCall = 1
            three.projectorEventsPerScriptCall = 3
            let (single, messages) = try await secondProjector(world, limits: one)
            #expect(messages.count > 50)
            #expect(try await single.apply(messages) == messages.count)
            let singly = try await world.fixture.dump()
            await single.close()

            try await world.fixture.deleteEverything()
            let (batched, again) = try await secondProjector(world, limits: three)
            #expect(try await batched.apply(again) == messages.count, "every event counted once")
            #expect(try await world.fixture.dump() == singly, "the same bytes as one event per call")
            #expect(try await batched.apply(again) == 0, "redelivered in threes, nothing changes")
            let report = try await auditor(world).audit(redis: world.fixture.redis, kafka: nil)
            #expect(report.differences == [])
            await batched.close()
        }
    }

    @Test func aReadModelMissingAnEventIsCompletedByRedelivery() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...2)
            while try await world.relay.publishNextBatch() > 0 {}
            let (projector, messages) = try await secondProjector(world)
            // Everything but product 2's events first; then the lot: only the missing ones apply.
            let first = messages.filter { $0.key != Array("2".utf8) }
            #expect(try await projector.apply(first) == first.count)
            #expect(try await projector.apply(messages) == messages.count - first.count)
            let report = try await auditor(world).audit(redis: world.fixture.redis, kafka: nil)
            #expect(report.differences == [])
            await projector.close()
        }
    }

    /// Retention removes messages before the projector applied them (the mock broker keeps 5 MB
    /// a partition, so a few thousand events do it): librdkafka resumes at the earliest offset
    /// left, and the projector must rebuild from the ledger instead of skipping what was lost.
    @Test func messagesRemovedBeforeTheyWereAppliedAreRebuiltFromTheLedger() async throws {
        try await ProjectionWorld.run(partitions: 1) { world in
            try await world.runWorkload(products: 1...2)
            while try await world.relay.publishNextBatch() > 0 {}
            let applied = try await withRunning([world.projector]) {
                try await auditor(world).audit(redis: world.fixture.redis, kafka: nil, projectionWaitMs: 30_000)
            }
            #expect(applied.differences == [])

            // While no projector runs: products 3 and 4, then enough of product 5 to push them out.
            try await world.runWorkload(products: 3...4)
            try await world.outgrowRetention(productId: 5)
            while try await world.relay.publishNextBatch() > 0 {}
            let partition = KafkaTopicPartition(topic: world.topic, partition: 0)
            let admin = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: world.brokers))
            let low = try await admin.watermarks(topic: world.topic, partition: 0).low
            await admin.close()
            let consumer = try await KafkaConsumer.connect(
                configuration: RedisProjector.consumerConfiguration(brokers: world.brokers), groupID: RedisProjector.groupID(namespace: world.fixture.namespace))
            let committed = try await consumer.committed([partition])[partition] ?? 0
            #expect(low > committed, "retention removed messages the group never applied: low \(low), committed \(committed)")
            try await consumer.subscribe(topics: [world.topic])
            let metrics = TestMetrics()
            let restarted = RedisProjector(
                consumer: consumer, redis: try await RedisConnection.connect(url: world.fixture.redisURL),
                rebuilder: ProjectionReplayer(reader: world.harness.reader, redis: world.fixture.redis, namespace: world.fixture.namespace),
                namespace: world.fixture.namespace, metrics: metrics)
            let report = try await withRunning([restarted]) {
                try await auditor(world).audit(redis: world.fixture.redis, kafka: nil, projectionWaitMs: 60_000)
            }
            #expect(report.differences.isEmpty, "\(report.differences.prefix(5))")
            #expect(try await ProjectionGeneration.read(on: world.fixture.redis, namespace: world.fixture.namespace).generation == 2, "rebuilt once")
            #expect(try metrics.expectCounter("ledger_projector_rebuilds_total").totalValue == 1)
        }
    }
}
