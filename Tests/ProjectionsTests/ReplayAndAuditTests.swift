import Foundation
import Ledger
import Projections
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct ReplayAndAuditTests {
    private func auditor(_ world: ProjectionWorld) -> LedgerAuditor {
        LedgerAuditor(reader: world.harness.reader, namespace: world.fixture.namespace)
    }

    private func replayer(_ world: ProjectionWorld) -> ProjectionReplayer {
        var limits = Limits()
        limits.generationRefreshMs = 50
        limits.replaySwitchGraceMs = 100
        return ProjectionReplayer(reader: world.harness.reader, redis: world.fixture.redis, namespace: world.fixture.namespace, limits: limits)
    }

    /// Every product's read model in the live generation.
    private func liveModel(_ world: ProjectionWorld) async throws -> [Int64: ProjectedProduct] {
        var model = [Int64: ProjectedProduct]()
        for productId in try await world.ledgerPositions().keys { model[productId] = try await world.fixture.product(productId) }
        return model
    }

    @Test func replayEqualsTheLiveProjectionAndSwitchesGenerations() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...3)
            let live = try await withRunning([world.relay, world.projector]) {
                #expect(try await auditor(world).audit(redis: world.fixture.redis, kafka: nil, projectionWaitMs: 30_000).differences == [])
                return try await liveModel(world)
            }
            let report = try await replayer(world).replay()
            #expect(report.generation == 2)
            #expect(report.differences == [])
            #expect(report.eventCount == Int(try await world.head()))
            #expect(try await world.fixture.keys().generation == 2)
            #expect(try await liveModel(world) == live, "the rebuilt read model equals the projected one")
            #expect(try await world.fixture.keyNames().allSatisfy { !$0.contains(":g1:") }, "the old generation is gone")
        }
    }

    @Test func afterRedisLostEverythingReplayMakesTheAuditClean() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...3)
            try await world.fixture.deleteEverything()
            let before = try await auditor(world).audit(redis: world.fixture.redis, kafka: nil, projectionWaitMs: 0)
            #expect(before.differences.contains { $0.source == "redis" }, "an empty Redis is reported")
            #expect(try await replayer(world).replay().differences == [])
            #expect(try await auditor(world).audit(redis: world.fixture.redis, kafka: nil, projectionWaitMs: 0).differences == [])
        }
    }

    @Test func replayKeepsUpWithWritesDuringTheRebuild() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...2)
            try await withRunning([world.relay, world.projector]) {
                async let writes: Void = world.runWorkload(products: 3...6)
                let report = try await replayer(world).replay(verify: false)
                try await writes
                #expect(report.generation == 2)
                let audit = try await auditor(world).audit(redis: world.fixture.redis, kafka: nil, projectionWaitMs: 30_000)
                #expect(audit.differences == [], "events appended during the replay reach the new generation")
            }
        }
    }

    @Test func auditReportsEachKindOfDamage() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...2)
            while try await world.relay.publishNextBatch() > 0 {}
            _ = try await replayer(world).replay()
            let kafka = LedgerAuditor.TopicAudit(configuration: KafkaConfiguration(brokers: world.brokers), topic: world.topic)
            #expect(try await auditor(world).audit(redis: world.fixture.redis, kafka: kafka).differences == [], "a clean system reports nothing")

            // A Redis counter changed by hand.
            let keys = try await world.fixture.keys().product(1)
            try await world.fixture.redis.command(["HINCRBY", RedisArgument(keys.config), "available", "3"])
            var differences = try await auditor(world).audit(redis: world.fixture.redis, kafka: nil, projectionWaitMs: 0).differences
            #expect(differences.map(\.subject) == ["product 1 config available"])
            try await world.fixture.redis.command(["HINCRBY", RedisArgument(keys.config), "available", "-3"])

            // A guard row deleted.
            let victim = try await world.database.query("SELECT product_id, user_id FROM purchases WHERE quantity > 0 ORDER BY user_id LIMIT 1")[0]
            let userId = try victim["user_id"].int64()
            try await world.database.query("DELETE FROM purchases WHERE product_id = $1 AND user_id = $2", [.int64(try victim["product_id"].int64()), .int64(userId)])
            differences = try await auditor(world).audit(redis: nil, kafka: nil).differences
            #expect(differences.count == 1)
            #expect(differences.first?.source == "tables")
            #expect(differences.first?.subject.contains("user \(userId)") == true)

            // A new topic with one message left out.
            let events = try await world.harness.reader.log(after: 0, limit: 100_000)
            let dropped = events[events.count / 2]
            let topic = "ledger.events.copy"
            try await #require(world.cluster).createTopic(topic, partitions: 3, replicationFactor: 3)
            let producer = try KafkaProducer(configuration: KafkaConfiguration(brokers: world.brokers))
            for result in await producer.send(events.filter { $0 != dropped }.map { OutboxRelay.message(for: $0, topic: topic) }) {
                _ = try result.get()
            }
            await producer.close()
            differences = try await auditor(world).audit(redis: nil, kafka: .init(configuration: kafka.configuration, topic: topic)).differences.filter { $0.source == "kafka" }
            #expect(differences == [AuditDifference(source: "kafka", subject: "product \(dropped.productId) position \(dropped.position)", ledger: "event", other: "missing")])
        }
    }

    /// The mock broker keeps 5 MB a partition, so a few thousand events trim the topic from the
    /// front: the audit counts what retention removed and still finds events a relay skipped.
    @Test func theTopicAuditTellsRetentionFromARealGap() async throws {
        try await ProjectionWorld.run(partitions: 1) { world in
            try await world.outgrowRetention(productId: 1)
            while try await world.relay.publishNextBatch() > 0 {}
            let kafka = LedgerAuditor.TopicAudit(configuration: KafkaConfiguration(brokers: world.brokers), topic: world.topic)
            let trimmed = try await auditor(world).audit(redis: nil, kafka: kafka)
            #expect(trimmed.differences == [], "\(trimmed.differences.prefix(3))")
            #expect(trimmed.kafkaTrimmedPositions > 1_000, "retention trimmed the partition: \(trimmed.kafkaTrimmedPositions)")
            #expect(trimmed.kafkaTrimmedPositions < trimmed.eventCount)

            // A relay that skipped three events: its checkpoint moved past them by hand.
            for user: Int64 in 9_000..<9_003 { _ = try await world.harness.reserve(productId: 1, userId: user) }
            let skippedThrough = try await world.head()
            try await world.database.query("UPDATE relay_checkpoints SET position = $1", [.int64(skippedThrough)])
            for user: Int64 in 9_003..<9_005 { _ = try await world.harness.reserve(productId: 1, userId: user) }
            while try await world.relay.publishNextBatch() > 0 {}
            let gap = try await auditor(world).audit(redis: nil, kafka: kafka)
            #expect(gap.differences.map(\.subject) == (skippedThrough - 2...skippedThrough).map { "product 1 position \($0)" })
            #expect(gap.differences.allSatisfy { $0.other == "missing" })

            var afterTheGap = kafka
            afterTheGap.fromPosition = skippedThrough + 1
            let later = try await auditor(world).audit(redis: nil, kafka: afterTheGap)
            #expect(later.differences == [])
            #expect(later.kafkaTrimmedPositions == 0, "nothing after the starting point was trimmed")
        }
    }
}
