import Foundation
import HummingbirdTesting
import Ledger
import Projections
import Synchronization
import TestSupport
import Testing

@testable import API

/// The gate's copy of stock and holdings follows the ledger through the relay and the projector,
/// so it can be behind (a node's projector partitions waiting for a rebalance, a stalled broker).
/// A refusal the copy gives while the ledger says otherwise is decided by the ledger. Found by
/// the chaos run: after a node was killed, buyers were told `sold-out` for seconds while
/// expired and cancelled units were back in the ledger.
@Suite struct StaleGateTests {
    /// Sets `field` of the read model's `hash` of `productId` once the model holds the listing.
    static func staleCopy(_ world: APIWorld, productId: Int64, _ hash: KeyPath<ProductKeys, String>, _ field: String, _ value: String) async throws {
        let keys = ProjectionKeys(namespace: world.world.fixture.namespace, generation: 1).product(productId)
        let redis = world.world.fixture.redis
        #expect(try await eventually { try await ProjectedProduct.read(keys, on: redis).config["available"] != nil })
        _ = try await redis.command(["HSET", RedisArgument(keys[keyPath: hash]), RedisArgument(field), RedisArgument(value)])
    }

    @Test func aSoldOutFromABehindCopyIsDecidedByTheLedger() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 91, stock: 1, limitPerUser: 1).status == .created)
            // The copy says none left while the ledger has the one unit (a revert not projected yet).
            try await Self.staleCopy(world, productId: 91, \.config, "available", "0")
            let (alice, bob) = (try await world.token(911), try await world.token(912))
            #expect(try await world.reserve(client, token: alice, productId: 91, key: "a").status == .created)
            #expect(try await world.reserve(client, token: bob, productId: 91, key: "b").problemCode == "sold-out", "the ledger has none left now")
            #expect(try await world.world.harness.reader.product(91)?.reservedUnits == 1)
        }
    }

    @Test func aLimitFromABehindCopyIsDecidedByTheLedger() async throws {
        try await APIWorld.run { world, client in
            #expect(try await world.list(client, id: 92, stock: 5, limitPerUser: 1).status == .created)
            // The copy says user 921 holds their one unit (a cancel not projected yet).
            try await Self.staleCopy(world, productId: 92, \.users, "921", "1")
            let alice = try await world.token(921)
            #expect(try await world.reserve(client, token: alice, productId: 92, key: "a").status == .created)
            #expect(try await world.reserve(client, token: alice, productId: 92, key: "b").problemCode == "limit-exceeded")
        }
    }

    @Test func theLedgerIsReadOncePerIntervalAndAFailedReadVouchesForNothing() async throws {
        let reads = Atomic<Int>(0)
        let available = Atomic<Int64>(3)
        let check = LedgerStockCheck(maxAgeMs: 200, maxProducts: 4) { productId in
            reads.add(1, ordering: .relaxed)
            guard productId != 13 else { throw PostgresError(code: .connectionFailed, message: "the test's outage") }
            return productId == 14 ? nil : available.load(ordering: .relaxed)
        }
        #expect(await check.check(11, 2) == .enough)
        available.store(0, ordering: .relaxed)
        #expect(await check.check(11, 3) == .enough, "the figure of the last read, within the interval")
        #expect(await check.check(11, 4) == .notEnough)
        #expect(reads.load(ordering: .relaxed) == 1)
        check.recordSoldOut(11)
        #expect(await check.check(11, 1) == .notEnough, "the ledger itself said sold out")
        try await Task.sleep(for: .milliseconds(250))
        #expect(await check.check(11, 1) == .notEnough)
        #expect(reads.load(ordering: .relaxed) == 2, "read again once the figure is older than the interval")
        #expect(await check.check(13, 1) == .unknown)
        // While the first read of a product is on its way, other callers know nothing yet.
        let reading = LedgerStockCheck(maxAgeMs: 200, maxProducts: 4) { _ in
            try await Task.sleep(for: .milliseconds(300))
            return 5
        }
        async let first = reading.check(15, 1)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await reading.check(15, 1) == .unknown)
        #expect(await first == .enough)
        #expect(await check.check(14, 1) == .notEnough, "no such product: nothing to sell")
    }
}
