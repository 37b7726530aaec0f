import Foundation
import Ledger
import MetricsTestKit
import Projections
import TestSupport
import Testing

/// The brokers go away mid-sale for longer than the projector's session timeout (6 s): the
/// group forgets the projector. It must rejoin by itself and follow the ledger again, with the
/// topic and Redis complete.
@Suite(.timeLimit(.minutes(3))) struct BrokerStallTests {
    private static let outage: Duration = .seconds(14)
    /// How soon after the brokers return an event written then must be in Redis. Typically it
    /// takes 3-6 s (reconnect, the coordinator's 3 s initial rebalance delay, fetch). The worst
    /// case the group protocol allows is longer: a join request the outage cut off leaves a
    /// phantom member, the coordinator waits a rebalance delay (session timeout - 1 s) for it,
    /// hands it partitions, and only after its session expires (6 s) rebalances again. Three
    /// session timeouts plus the 1 s reconnect back-off cover that path; a projector that never
    /// rejoins fails it all the same.
    private static let resumeBound: Duration = .milliseconds(3 * Limits().projectorSessionTimeoutMs + 2_000)

    @Test func aBrokerProcessFrozenPastTheSessionTimeoutLosesTheProjectorNothing() async throws {
        try await ProjectionWorld.run(brokersInProcess: false) { world in
            let broker = try #require(world.brokerProcess)
            try await sellThroughAnOutage(world, begin: { broker.freeze() }, end: { broker.thaw() })
        }
    }

    @Test func brokersDownPastTheSessionTimeoutLoseTheProjectorNothing() async throws {
        try await ProjectionWorld.run { world in
            let cluster = try #require(world.cluster)
            try await sellThroughAnOutage(
                world,
                begin: { for broker: Int32 in 1...3 { try await cluster.setBrokerDown(broker) } },
                end: { for broker: Int32 in 1...3 { try await cluster.setBrokerUp(broker) } })
        }
    }

    @Test func theTopicAuditOfFrozenBrokersFailsInTimeInsteadOfHanging() async throws {
        try await ProjectionWorld.run(brokersInProcess: false) { world in
            let broker = try #require(world.brokerProcess)
            try await world.runWorkload(products: 1...2)
            while try await world.relay.publishNextBatch() > 0 {}
            let kafka = LedgerAuditor.TopicAudit(configuration: KafkaConfiguration(brokers: world.brokers), topic: world.topic, timeoutMs: 2_000)
            let auditor = LedgerAuditor(reader: world.harness.reader, namespace: world.fixture.namespace)
            #expect(try await auditor.audit(redis: nil, kafka: kafka).differences == [])
            broker.freeze()
            let started = ContinuousClock.now
            let error = await #expect(throws: KafkaError.self) { try await auditor.audit(redis: nil, kafka: kafka) }
            let elapsed = ContinuousClock.now - started
            broker.thaw()
            #expect(error?.isRetriable == true, "\(String(describing: error))")
            #expect(elapsed < .seconds(15), "gave up after \(elapsed)")
        }
    }

    /// Reservations flow from a few lanes while the relay and the projector run; the brokers go
    /// away for `outage` and come back.
    private func sellThroughAnOutage(
        _ world: ProjectionWorld, begin: @Sendable () async throws -> Void, end: @Sendable () async throws -> Void
    ) async throws {
        _ = try await world.harness.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 1_000_000, limitPerUser: 1)))
        _ = try await world.harness.submit(.listProduct(LedgerHarness.listing(productId: 2, stock: 1_000_000, limitPerUser: 1)))
        let applied: @Sendable () throws -> Double = { try world.metrics.expectGauge("ledger_projector_applied_position").lastValue ?? 0 }
        let (resumedWithin, report) = try await withRunning([world.relay, world.projector]) {
            let resumedWithin = try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<4 {
                    group.addTask {
                        // About 200 reservations a second: well under what the mock broker retains.
                        for user in stride(from: Int64(lane), to: .max, by: 4) where !Task.isCancelled {
                            _ = try await world.harness.reserve(productId: 1 + user % 2, userId: user)
                            try await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
                let before = try await world.head()
                #expect(try await eventually(timeout: .seconds(30)) { try applied() >= Double(before) }, "the projector follows before the outage")
                try await begin()
                try await Task.sleep(for: Self.outage)
                try await end()
                let back = ContinuousClock.now
                let after = try await world.head()
                let caughtUp = try await eventually(timeout: Self.resumeBound + .seconds(20)) { try applied() >= Double(after) }
                group.cancelAll()
                return caughtUp ? ContinuousClock.now - back : nil
            }
            let head = try await world.head()
            #expect(try await eventually { try await world.checkpoint() == head }, "the relay published everything")
            let report = try await LedgerAuditor(reader: world.harness.reader, namespace: world.fixture.namespace).audit(
                redis: world.fixture.redis, kafka: .init(configuration: KafkaConfiguration(brokers: world.brokers), topic: world.topic), projectionWaitMs: 30_000)
            #expect(try world.metrics.expectGauge("ledger_projector_lag_messages").lastValue == 0, "caught up, nothing left to consume")
            return (resumedWithin, report)
        }
        let within = try #require(resumedWithin, "the projector applies events written after the outage")
        #expect(within < Self.resumeBound, "events written when the brokers returned were applied after \(within)")
        #expect(report.eventCount > 1_000, "the sale went on through the outage")
        #expect(report.differences.count == 0, "\(report.differences.prefix(5))")
        #expect(try world.metrics.expectCounter("ledger_projector_group_rejoins_total").totalValue >= 1, "the group forgot the projector")
        #expect(try world.metrics.expectGauge("ledger_projector_group_member").lastValue == 1, "a member again")
        // While the coordinator is away a batch may fail on its offset query (which times out
        // after kafkaRequestTimeoutMs) and is retried after projectorRetryDelayMs; a loop retrying
        // what only a rejoin clears fails at once, twice a second, through the whole window.
        let limits = Limits()
        let perFailure = Duration.milliseconds(Int(limits.kafkaRequestTimeoutMs) + limits.projectorRetryDelayMs)
        let allowed = 2 + Int(((Self.outage + within) / perFailure).rounded(.up))
        let failed = try world.metrics.expectCounter("ledger_projector_failed_batches_total").totalValue
        #expect(failed <= allowed, "\(failed) failed batches over the outage and \(within) after it")
    }
}
