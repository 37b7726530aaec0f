import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ledger
import Projections
import TestSupport
import Testing

/// With the gate's breaker open, reservations are decided by the ledger alone: the same answers
/// the gate and the ledger give together, nothing taken in Redis by the attempt, the read model
/// still equal to the ledger once projected, and a cap on such attempts in flight.
@Suite struct DegradedGateTests {
    /// The breaker stays open for the whole test once opened (no probe closes it).
    static func limits(degradedInFlight: Int = 64) -> Limits {
        var limits = APIWorld.limits
        limits.gateBreakerOpenMs = 600_000
        limits.maxDegradedReservationsInFlight = degradedInFlight
        return limits
    }

    /// Opens the breaker and shuts the gate's pool, so that an attempt that still tried the
    /// gate would be answered 503.
    static func openTheBreaker(_ world: APIWorld) {
        for _ in 0..<world.system.breaker.failureThreshold {
            world.system.breaker.recordFailure(RedisError(code: .connectionLost, message: "the test's failure"))
        }
        world.system.gatePool.shutdown()
    }

    @Test func whileTheBreakerIsOpenTheLedgerAloneGivesTheSameAnswers() async throws {
        try await APIWorld.run(limits: Self.limits()) { world, client in
            #expect(try await world.list(client, id: 81, stock: 3, limitPerUser: 2).status == .created)
            Self.openTheBreaker(world)
            #expect(!world.system.breaker.isClosed)
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(ready.json["status"] as? String == "degraded")
            #expect(ready.json["gate"] as? String == "open")
            #expect(ready.json["redis"] as? String == "up")

            let (alice, bob, carol) = (try await world.token(801), try await world.token(802), try await world.token(803))
            let first = try await world.reserve(client, token: alice, productId: 81, key: "k-1")
            #expect(first.status == .created)
            let again = try await world.reserve(client, token: alice, productId: 81, key: "k-1")
            #expect(again.status == .created)
            #expect(again.json["reservationId"] as? String == first.json["reservationId"] as? String, "the key names one reservation")
            #expect(try await world.reserve(client, token: alice, productId: 81, quantity: 2, key: "k-1").problemCode == "idempotency-key-reused")
            #expect(try await world.reserve(client, token: alice, productId: 81).status == .created)
            #expect(try await world.reserve(client, token: alice, productId: 81).problemCode == "limit-exceeded")
            #expect(try await world.reserve(client, token: bob, productId: 81).status == .created)
            #expect(try await world.reserve(client, token: carol, productId: 81).problemCode == "sold-out")
            #expect(try await world.world.harness.reader.product(81)?.reservedUnits == 3)

            // The projector brings the ledger's reservations into Redis, which then equals the
            // ledger's fold, with no tentative left behind.
            let keys = ProjectionKeys(namespace: world.world.fixture.namespace, generation: 1).product(81)
            let model = try await ProjectedProduct.read(keys, on: world.world.fixture.redis)
            #expect(model.tentatives.isEmpty)
            let audit = try await LedgerAuditor(reader: world.world.harness.reader, namespace: world.world.fixture.namespace).audit(
                redis: world.world.fixture.redis, kafka: nil, projectionWaitMs: 30_000)
            #expect(audit.differences == [])
        }
    }

    @Test func attemptsWithoutTheGateAreCappedInFlight() async throws {
        try await APIWorld.run(limits: Self.limits(degradedInFlight: 1)) { world, client in
            #expect(try await world.list(client, id: 82, stock: 1_000, limitPerUser: 10).status == .created)
            Self.openTheBreaker(world)
            var tokens = [String]()
            for user in 900..<950 { tokens.append(try await world.token(Int64(user))) }
            let attempts = tokens
            let responses = try await withThrowingTaskGroup(of: TestResponse.self) { group in
                for token in attempts { group.addTask { try await world.reserve(client, token: token, productId: 82) } }
                return try await group.reduce(into: [TestResponse]()) { $0.append($1) }
            }
            let created = responses.count { $0.status == .created }
            let overloaded = responses.filter { $0.status == .serviceUnavailable }
            #expect(created + overloaded.count == attempts.count, "\(responses.map(\.status))")
            #expect(created >= 1 && !overloaded.isEmpty, "one at a time reaches the ledger, the rest are refused at once")
            #expect(overloaded.allSatisfy { $0.problemCode == "overloaded" && $0.headers[.retryAfter] != nil })
            #expect(try await world.world.harness.reader.product(82)?.reservedUnits == Int64(created))
        }
    }
}
