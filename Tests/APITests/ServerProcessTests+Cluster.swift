import API
import Foundation
import HummingbirdTesting
import Ledger
import LoadGenerator
import NIOCore
import Projections
import TestSupport
import Testing

/// Several `ledger serve` processes on one ledger, as behind a load balancer: every node runs a
/// relay, one leads and publishes, and a standby takes over when the leader is killed.
extension ServerProcessTests {
    /// The node's metric `name` (a series without labels); nil when its `/metrics` does not
    /// answer or has no such series.
    static func metric(_ name: String, on setup: Setup) async -> Double? {
        let text = try? await TestClient.withClient(host: "127.0.0.1", port: setup.port) { client in
            String(buffer: try await client.get("/metrics").body ?? ByteBuffer())
        }
        let line = text?.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    /// How many of the nodes' projectors are members of the consumer group.
    static func projectorMembers(_ setups: [Setup]) async -> Int {
        var members = 0
        for setup in setups where await metric("ledger_projector_group_member", on: setup) == 1 { members += 1 }
        return members
    }

    static func leadsTheRelay(_ setup: Setup) async -> Bool {
        await metric("ledger_relay_leader", on: setup) == 1
    }

    /// The nodes whose relay leads.
    static func relayLeaders(_ setups: [Setup]) async -> [Int] {
        var leaders = [Int]()
        for (index, setup) in setups.enumerated() where await leadsTheRelay(setup) { leaders.append(index) }
        return leaders
    }

    @Test func theRelayLeaderKilledUnderLoadHandsOverToAStandbyAndNothingIsLost() async throws {
        try await withSetup { first in
            let setups = [first, first.node(port: first.port < 32_000 ? first.port + 1 : 20_000)]
            var processes = [ChildProcess]()
            for (index, setup) in setups.enumerated() { processes.append(try await start(setup, log: "relay-node-\(index)")) }
            let oneLeads = try await eventually(timeout: .seconds(15)) { await Self.relayLeaders(setups).count == 1 }
            #expect(oneLeads, "one relay leads")
            let leader = try #require(await Self.relayLeaders(setups).first)
            let standby = 1 - leader
            // Both projectors share the topic through the consumer group, so the kill below
            // hands the leader's partitions to the survivor (the audit then shows none skipped).
            let bothProject = try await eventually(timeout: .seconds(30)) { await Self.projectorMembers(setups) == setups.count }
            #expect(bothProject, "both nodes' projectors are members of the group")
            try await listSale(setups[standby], stock: 400)

            // Load on both nodes; the leader's clients stop when it dies, the standby's go on.
            let acknowledged = Acknowledged()
            async let loadingLeader: Void = load(setups[leader], into: acknowledged)
            async let loadingStandby: Void = load(setups[standby], into: acknowledged)
            try await waitForAnswers(acknowledged)
            processes[leader].signal(SIGKILL)
            let killed = ContinuousClock.now
            #expect(try await processes[leader].waitForExit() == 128 + SIGKILL)
            let survivor = setups[standby]
            let tookOver = try await eventually(timeout: .seconds(15)) { await Self.leadsTheRelay(survivor) }
            let takeOver = ContinuousClock.now - killed
            #expect(tookOver)
            // The standby tries the lock once per relayLeadershipPollMs (1 s); the target is 3 s.
            #expect(takeOver < .seconds(3), "the standby led \(takeOver) after the kill")
            // A sale listed after the take-over sells, and reaches the topic through the new leader.
            try await listSale(survivor, stock: 10, productId: 2)
            let buyer = try await TokenAuthority(secret: Self.secret).token(userId: 9_999, admin: false, ttlSeconds: 600)
            let bought = try await TestClient.withClient(host: "127.0.0.1", port: survivor.port) {
                try await send($0, .post, "/v1/seckill", token: buyer, body: #"{"productId":2,"quantity":1}"#).head.status
            }
            #expect(bought == .created)
            acknowledged.stopped.store(true, ordering: .relaxed)
            try await loadingLeader
            try await loadingStandby

            let connection = try await PostgresConnection.connect(url: first.databaseURL)
            let reader = LedgerReader(connection: connection)
            for id in acknowledged.ids.withLock({ $0 }) {
                #expect(try await reader.reservation(try #require(ReservationID(id))) != nil, "acknowledged \(id) is in the ledger")
            }
            let epoch = try await connection.query("SELECT epoch FROM relay_checkpoints")[0]["epoch"].int64()
            #expect(epoch == 2, "one take-over")
            // The survivor's reconciler rolls back what the killed node left tentative; its relay
            // brings every position to the topic and its projector every event to Redis.
            let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
            let keys = ProjectionKeys(namespace: first.namespace, generation: 1).product(1)
            let settled = try await eventually(timeout: .seconds(30)) { try await ProjectedProduct.read(keys, on: redis).tentatives.isEmpty }
            #expect(settled, "no tentative is left")
            let audit = try await auditor(first, connection).audit(
                redis: redis, kafka: .init(configuration: KafkaConfiguration(brokers: try TestServices.kafkaBrokers()), topic: first.topic),
                projectionWaitMs: 30_000)
            #expect(audit.differences.isEmpty, "\(audit.differences.count) differences, first: \(audit.differences.prefix(5))")
            // `ledger status` shows the take-over: the second epoch, led by the survivor's session.
            let status = try await TestServices.run(
                "/usr/bin/env", first.environment.map { "\($0)=\($1)" } + [try TestServices.variable("LEDGER_BIN"), "status"])
            #expect(status.status == 0, "\(status.output)")
            #expect(status.output.contains("relay main: topic \(first.topic), epoch 2,"), "\(status.output)")
            #expect(status.output.contains("(0 behind), leader 127.0.0.1:"), "\(status.output)")
            #expect(status.output.contains("live generation 1"), "\(status.output)")
            processes[standby].signal(SIGTERM)
            #expect(try await processes[standby].waitForExit() == 0)
            await redis.close()
            await connection.close()
        }
    }
}
