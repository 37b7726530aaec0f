import Foundation
import Ledger
import Projections
import TestSupport
import Testing

/// The relay against a real ledger and librdkafka's mock cluster, checked with kcat.
@Suite(.timeLimit(.minutes(3))) struct OutboxRelayTests {
    /// Waits until the relay's checkpoint reached the ledger head.
    private func caughtUp(_ world: ProjectionWorld, timeout: Duration = .seconds(60)) async throws -> Bool {
        try await eventually(timeout: timeout) { try await world.checkpoint() == world.head() }
    }

    @Test func everyEventReachesTheTopicOnceInProductOrder() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...2)
            try await withRunning([world.relay]) {
                // More events while the relay tails the ledger (woken by NOTIFY).
                try await world.runWorkload(products: 3...4)
                #expect(try await caughtUp(world))
            }
            let expected = try await world.ledgerPositions()
            #expect(expected.count == 4)
            let published = try await world.topicPositionsByKcat()
            #expect(published == expected, "kcat reads every event once, in ledger order per product")
        }
    }

    @Test func whileEventsFlowTheCheckpointIsWrittenOncePerIntervalAndAtTheHeadWhenCaughtUp() async throws {
        var limits = Limits()
        limits.relayCheckpointIntervalMs = 1_000
        try await ProjectionWorld.run(limits: limits) { world in
            _ = try await world.harness.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 1_000_000, limitPerUser: 10)))
            try await withRunning([world.relay]) {
                #expect(try await caughtUp(world))
                // Reservations for 2.5 s while the test watches the stored checkpoint: it may move
                // about once a second, not with every produce round.
                let deadline = ContinuousClock.now + .milliseconds(2_500)
                async let watched: [Int64] = {
                    var seen = [try await world.checkpoint()]
                    while ContinuousClock.now < deadline {
                        let position = try await world.checkpoint()
                        if position != seen.last { seen.append(position) }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    return seen
                }()
                // Eight submitters with no pause, so every produce round finds events waiting.
                let reserved = try await withThrowingTaskGroup(of: Int.self) { group in
                    for submitter: Int64 in 0..<8 {
                        group.addTask {
                            var count = 0
                            while ContinuousClock.now < deadline {
                                _ = try await world.harness.reserve(productId: 1, userId: submitter * 1_000_000 + Int64(count), quantity: 1, key: nil)
                                count += 1
                            }
                            return count
                        }
                    }
                    return try await group.reduce(0, +)
                }
                let seen = try await watched
                #expect(reserved > 100, "events kept coming")
                // About three interval writes, plus one whenever a round found nothing because a
                // commit stalled (the parallel suite's load); a write per round gives ~100.
                #expect(seen.count <= 12, "stored positions seen while events flowed: \(seen)")
                #expect(try await caughtUp(world, timeout: .seconds(5)), "caught up, the checkpoint is the head at once")
            }
            #expect(try await world.topicPositionsByKcat() == world.ledgerPositions())
        }
    }

    @Test func aBrokerDownForAWhileLosesAndReordersNothing() async throws {
        try await ProjectionWorld.run(partitions: 2) { world in
            let cluster = try #require(world.cluster)
            for partition: Int32 in 0..<2 {
                try await cluster.setPartitionLeader(topic: world.topic, partition: partition, brokerID: 2)
            }
            try await world.runWorkload(products: 1...2)
            try await withRunning([world.relay]) {
                #expect(try await caughtUp(world))
                try await cluster.setBrokerDown(2)
                try await world.runWorkload(products: 3...4)
                try await Task.sleep(for: .seconds(2))
                #expect(try await world.checkpoint() < world.head(), "nothing is checkpointed while the leader is down")
                try await cluster.setBrokerUp(2)
                #expect(try await caughtUp(world), "the relay catches up once the broker is back")
            }
            #expect(try await world.topicPositionsByKcat() == world.ledgerPositions())
        }
    }

    @Test func aResetTopicIsRepublishedFromTheLedger() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...2)
            while try await world.relay.publishNextBatch() > 0 {}
            #expect(try await world.checkpoint() == world.head())

            // The same relay (same checkpoint) pointed at a brand-new cluster: its topic is empty.
            let fresh = try await KafkaMockCluster.start(brokers: 1)
            try await fresh.createTopic(world.topic, partitions: 3, replicationFactor: 1)
            let producer = try KafkaProducer(configuration: OutboxRelay.producerConfiguration(brokers: fresh.bootstrapServers))
            let admin = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: fresh.bootstrapServers))
            let listener = try await PostgresConnection.connect(url: world.harness.databaseURL)
            let relay = OutboxRelay(topic: world.topic, database: world.database, listener: listener, producer: producer, admin: admin)
            try await relay.republishIfTopicWasReset()
            #expect(try await world.checkpoint() == 0, "the checkpoint went back to the start")
            while try await relay.publishNextBatch() > 0 {}
            #expect(try await world.topicPositionsByKcat(brokers: fresh.bootstrapServers) == world.ledgerPositions())
            try await relay.republishIfTopicWasReset()
            #expect(try await world.checkpoint() == world.head(), "a complete topic is not republished")
            await producer.close()
            await admin.close()
            await listener.close()
            await fresh.stop()
        }
    }

    @Test func theKafkaFormOfAnEventCarriesItsKeyHeadersAndJSON() async throws {
        try await ProjectionWorld.run { world in
            _ = try await world.harness.submit(.listProduct(LedgerHarness.listing(productId: 77, stock: 5)))
            let event = try await world.harness.reader.log(after: 0, limit: 1)[0]
            let message = OutboxRelay.message(for: event, topic: "t")
            #expect(message.key == Array("77".utf8))
            #expect(message.headers.map(\.name) == ["type", "eventId", "position", "schemaVersion"])
            #expect(message.headers.map { String(decoding: $0.value, as: UTF8.self) } == ["ProductListed", event.eventId, "1", "1"])
            // The value, read by a general JSON parser, holds every field of the event.
            let value = try #require(try JSONSerialization.jsonObject(with: Data(message.value)) as? NSDictionary)
            let data = try JSONSerialization.jsonObject(with: Data(event.data.utf8))
            #expect(value == [
                "position": event.position, "streamId": event.streamId, "streamVersion": event.streamVersion, "eventId": event.eventId,
                "type": event.type, "schemaVersion": event.schemaVersion, "data": data,
                "metadata": ["actor": event.metadata.actor, "requestId": event.metadata.requestId as Any],
                "recordedAt": event.recordedAt.iso8601, "productId": event.productId, // no userId: a listing has none
            ] as NSDictionary)
        }
    }
}
