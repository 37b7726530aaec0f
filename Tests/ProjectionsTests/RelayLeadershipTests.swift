import Ledger
import Projections
import TestSupport
import Testing

/// Several relays on one ledger (as on several nodes): one leads, the others stand by, a
/// take-over follows the end of the leader's session, and the epoch fences a former leader.
@Suite(.timeLimit(.minutes(3))) struct RelayLeadershipTests {
    /// A second relay of the same name on connections of its own, as another node runs it.
    private func withSecondRelay<T: Sendable>(
        _ world: ProjectionWorld, limits: Limits, _ body: @Sendable (OutboxRelay, PostgresConnection) async throws -> T
    ) async throws -> T {
        let database = try await PostgresConnection.connect(url: world.harness.databaseURL, name: "relay-2")
        let listener = try await PostgresConnection.connect(url: world.harness.databaseURL, name: "relay-2-listener")
        let producer = try KafkaProducer(configuration: OutboxRelay.producerConfiguration(brokers: world.brokers))
        let admin = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: world.brokers))
        let relay = OutboxRelay(topic: world.topic, database: database, listener: listener, producer: producer, admin: admin, limits: limits)
        let result: Result<T, any Error>
        do { result = .success(try await body(relay, database)) } catch { result = .failure(error) }
        await producer.close()
        await admin.close()
        await listener.close()
        await database.close()
        return try result.get()
    }

    /// Ends the session that holds the relay lock, as a killed process or a lost connection does.
    private func endLeaderSession(_ world: ProjectionWorld) async throws {
        let connection = try await PostgresConnection.connect(url: world.harness.databaseURL)
        let ended = try await connection.query(
            "SELECT pg_terminate_backend(pid) AS ended FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                + "(SELECT oid FROM pg_database WHERE datname = current_database())")
        await connection.close()
        #expect(ended.count == 1, "one session holds the relay lock")
        #expect(try ended.allSatisfy { try $0["ended"].bool() })
    }

    private func epoch(_ connection: PostgresConnection) async throws -> Int64 {
        try await connection.query("SELECT epoch FROM relay_checkpoints WHERE relay = 'main'")[0]["epoch"].int64()
    }

    private func errorCode(_ body: () async throws -> Int) async -> RelayError.Code? {
        do {
            _ = try await body()
            return nil
        } catch {
            return (error as? RelayError)?.code
        }
    }

    @Test func aStandbyTakesOverWhenTheLeadersSessionEndsAndTheFormerLeaderIsFenced() async throws {
        // The former leader does not re-check its lock in this test: it acts as one that paused
        // right after its last check.
        let limits = {
            var limits = Limits()
            limits.relayLeadershipPollMs = 600_000
            return limits
        }()
        try await ProjectionWorld.run(limits: limits) { world in
            try await world.runWorkload(products: 1...2)
            try await withSecondRelay(world, limits: limits) { standby, standbyDatabase in
                #expect(try await world.relay.publishNextBatch() > 0)
                #expect(try await epoch(standbyDatabase) == 1)
                #expect(await errorCode { try await standby.publishNextBatch() } == .notLeader, "one relay leads at a time")

                try await endLeaderSession(world)
                try await world.runWorkload(products: 3...3)
                while try await standby.publishNextBatch() > 0 {}
                #expect(try await epoch(standbyDatabase) == 2, "the take-over bumped the epoch")
                #expect(try await world.checkpoint() == world.head())

                // The former leader (its connection re-opened) still believes it leads: its
                // checkpoint statements name epoch 1 and are refused, and it stands by after.
                try await world.runWorkload(products: 4...4)
                let before = try await world.checkpoint()
                #expect(await errorCode { try await world.relay.publishNextBatch() } == .fenced)
                #expect(try await world.checkpoint() == before, "a fenced relay did not move the checkpoint")
                #expect(await errorCode { try await world.relay.publishNextBatch() } == .notLeader)

                while try await standby.publishNextBatch() > 0 {}
                #expect(try await world.checkpoint() == world.head())
                #expect(try await world.topicPositionsByKcat() == world.ledgerPositions(), "every event once, in order per product")
            }
        }
    }

    @Test func runningRelaysPublishEverythingOnceThroughATakeOver() async throws {
        try await ProjectionWorld.run { world in
            try await world.runWorkload(products: 1...2)
            try await withSecondRelay(world, limits: Limits()) { second, secondDatabase in
                try await withRunning([world.relay, second]) {
                    #expect(try await eventually(timeout: .seconds(30)) { try await world.checkpoint() == world.head() })
                    #expect(try await epoch(secondDatabase) == 1, "one of the two took the lead, once")
                    try await endLeaderSession(world)
                    let ended = ContinuousClock.now
                    try await world.runWorkload(products: 3...4)
                    #expect(try await eventually(timeout: .seconds(30)) { try await epoch(secondDatabase) == 2 })
                    let takeOver = ContinuousClock.now - ended
                    // The standby tries the lock once per relayLeadershipPollMs (1 s): a few polls,
                    // allowing for a busy machine, not a lease of tens of seconds.
                    #expect(takeOver < .seconds(5), "taken over after \(takeOver)")
                    #expect(try await eventually(timeout: .seconds(30)) { try await world.checkpoint() == world.head() })
                }
            }
            // At-least-once across the take-over: what the former leader delivered and had not
            // saved comes again; per product every position is there, in order.
            let published = try await world.topicPositionsByKcat()
            let ledger = try await world.ledgerPositions()
            #expect(published.mapValues { Self.withoutRepeats($0) } == ledger)
        }
    }

    /// The positions with a republished run collapsed: a take-over may repeat what came after
    /// the former leader's last saved checkpoint, so a later position may come again, never an
    /// earlier one out of order.
    private static func withoutRepeats(_ positions: [Int64]) -> [Int64] {
        var seen = Set<Int64>()
        return positions.filter { seen.insert($0).inserted }
    }
}
