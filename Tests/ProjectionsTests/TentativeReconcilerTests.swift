import Foundation
import Ledger
import Projections
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct TentativeReconcilerTests {
    @Test func anAbandonedTentativeIsRolledBackAndTheUnitIsForSaleAgain() async throws {
        try await Self.withGate(stock: 2) { world, pool, gate in
            let longAgo = Timestamp.now().adding(seconds: -120)
            try await withRunning([pool]) {
                // A request that passed the gate and died before the ledger: nothing in PostgreSQL.
                let abandoned = ReservationID.v7()
                #expect(try await gate.reserve(productId: 1, userId: 10, quantity: 1, reservationId: abandoned, idempotencyKey: nil, now: longAgo) == .reserved)
                // One that passed the gate long ago and did reach the ledger (projector not run since).
                let committed = ReservationID.v7()
                #expect(try await gate.reserve(productId: 1, userId: 11, quantity: 1, reservationId: committed, idempotencyKey: nil, now: longAgo) == .reserved)
                let result = try await world.harness.submit(.reserve(.init(reservationId: committed, productId: 1, userId: 11, quantity: 1, idempotencyKey: nil)))
                #expect(result.reservation?.reservationId == committed)
                // A fresh tentative of a request still in flight.
                let inFlight = ReservationID.v7()
                #expect(try await gate.reserve(productId: 1, userId: 12, quantity: 1, reservationId: inFlight, idempotencyKey: nil, now: .now()) == .soldOut)

                let reconciler = TentativeReconciler(redis: world.fixture.redis, namespace: world.fixture.namespace, reader: world.harness.reader)
                #expect(try await reconciler.pass() == 1)
                #expect(try await reconciler.pass() == 0, "a second pass finds nothing")
                let product = try await world.fixture.product(1)
                #expect(product.reservations[abandoned.text] == nil)
                #expect(product.tentatives.keys.sorted() == [committed.text], "the committed one waits for the projector")
                #expect(product.config["available"] == "1")
                #expect(try await gate.reserve(productId: 1, userId: 12, quantity: 1, reservationId: inFlight, idempotencyKey: nil, now: .now()) == .reserved,
                        "the abandoned unit is for sale again")
            }
        }
    }

    /// Every node runs a reconciler: three at once over the same abandoned tentatives roll each
    /// back once, so exactly the abandoned units come back (a second rollback would give more).
    @Test func reconcilersOnSeveralNodesRollEachTentativeBackOnce() async throws {
        try await Self.withGate(stock: 50) { world, pool, gate in
            let longAgo = Timestamp.now().adding(seconds: -120)
            try await withRunning([pool]) {
                for user: Int64 in 1...40 {
                    let decision = try await gate.reserve(productId: 1, userId: user, quantity: 1, reservationId: .v7(), idempotencyKey: nil, now: longAgo)
                    #expect(decision == .reserved)
                }
            }
            #expect(try await world.fixture.product(1).config["available"] == "10")
            let rolledBack = try await withThrowingTaskGroup(of: Int.self) { group in
                for node in 0..<3 {
                    group.addTask {
                        let redis = try await RedisConnection.connect(url: world.fixture.redisURL, name: "reconciler-\(node)")
                        let database = try await PostgresConnection.connect(url: world.harness.databaseURL, name: "reconciler-\(node)")
                        let reconciler = TentativeReconciler(redis: redis, namespace: world.fixture.namespace, reader: LedgerReader(connection: database))
                        let count = try await reconciler.pass()
                        await redis.close()
                        await database.close()
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(rolledBack == 40, "each abandoned tentative rolled back by one reconciler")
            let product = try await world.fixture.product(1)
            #expect(product.tentatives.isEmpty)
            #expect(product.config["available"] == "50", "exactly the abandoned units came back")
        }
    }

    /// A world with product 1 listed and projected (`stock` units, one per user), and a gate on
    /// its read model whose pool the body runs when it needs it.
    private static func withGate(
        stock: Int64, _ body: @escaping @Sendable (ProjectionWorld, RedisPipelinePool, ReservationGate) async throws -> Void
    ) async throws {
        try await ProjectionWorld.run { world in
            _ = try await world.harness.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: stock, limitPerUser: 1)))
            while try await world.relay.publishNextBatch() > 0 {}
            try await withRunning([world.projector]) {
                let projected = try await eventually { try await world.fixture.product(1).config["available"] == "\(stock)" }
                #expect(projected)
            }
            let pool = try await RedisPipelinePool.connect(url: world.fixture.redisURL, connections: 1, maxPipelineLength: 64, maxQueueDepth: 100)
            let generation = ProjectionGeneration(
                connection: try await RedisConnection.connect(url: world.fixture.redisURL), namespace: world.fixture.namespace, refreshMs: 1_000)
            try await body(world, pool, ReservationGate(pool: pool, generation: generation))
            await generation.close()
        }
    }
}
