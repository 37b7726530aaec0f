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
    /// Makes the read model's copy of `productId` behind the ledger: it has applied nothing, and
    /// `field` of its `hash` says `value`; the listing is older than the settle time by then.
    static func staleCopy(_ world: APIWorld, productId: Int64, _ hash: KeyPath<ProductKeys, String>, _ field: String, _ value: String) async throws {
        let keys = ProjectionKeys(namespace: world.world.fixture.namespace, generation: 1).product(productId)
        let redis = world.world.fixture.redis
        #expect(try await eventually { try await ProjectedProduct.read(keys, on: redis).config["available"] != nil })
        try await Task.sleep(for: .milliseconds(world.world.harness.limits.gateSettleMs + 100))
        _ = try await redis.command(["HSET", RedisArgument(keys.config), "applied", "0"])
        _ = try await redis.command(["HSET", RedisArgument(keys[keyPath: hash]), RedisArgument(field), RedisArgument(value)])
    }

    /// Lists a product and waits until the read model holds it; returns its keys there.
    static func listProjected(
        _ world: APIWorld, _ client: some TestClientProtocol, id: Int64, stock: Int64, limitPerUser: Int64
    ) async throws -> ProductKeys {
        #expect(try await world.list(client, id: id, stock: stock, limitPerUser: limitPerUser).status == .created)
        let keys = ProjectionKeys(namespace: world.world.fixture.namespace, generation: 1).product(id)
        let redis = world.world.fixture.redis
        #expect(try await eventually { try await ProjectedProduct.read(keys, on: redis).config["available"] != nil })
        return keys
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

    @Test func unitsALostAttemptStillHoldsInTheGateAreSoldByTheLedger() async throws {
        try await APIWorld.run { world, client in
            let keys = try await Self.listProjected(world, client, id: 93, stock: 1, limitPerUser: 1)
            let redis = world.world.fixture.redis
            // An attempt took the unit in the gate long ago and never reached the ledger (its
            // node died, or PostgreSQL did not answer): the reconciler frees it only much later.
            let takenMs = Timestamp.now().epochMs - Int64(world.world.harness.limits.gateLostTentativeMs) - 1_000
            _ = try await redis.command(["HINCRBY", RedisArgument(keys.config), "available", "-1"])
            _ = try await redis.command(["ZADD", RedisArgument(keys.tentatives), RedisArgument(String(takenMs)), "lost-attempt"])
            let alice = try await world.token(931)
            #expect(try await world.reserve(client, token: alice, productId: 93, key: "a").status == .created)
        }
    }

    /// Found by the chaos run: a node died between the gate and the commit, its client sent the
    /// request again with the same key to another node, and the ledger committed it there. The
    /// dead attempt's tentative then counted the key's units a second time, and for seconds
    /// later buyers were told `sold-out` while the ledger had units.
    @Test func aRetriedKeyFreesTheUnitsItsLostAttemptHeldInTheGate() async throws {
        try await APIWorld.run { world, client in
            let keys = try await Self.listProjected(world, client, id: 94, stock: 2, limitPerUser: 2)
            let redis = world.world.fixture.redis
            // The lost attempt: the gate took a unit for user 941's key "k" a moment ago, and
            // the attempt never reached the ledger.
            let lost = ReservationID.v7()
            let taken = try await redis.evaluate([RedisScriptCall(
                ProjectionScripts.gate, keys: keys.all.map { RedisArgument($0) },
                arguments: ["941", "1", RedisArgument(lost.text), "k", RedisArgument(Timestamp.now().epochMs)])])
            #expect(try GateDecision(reply: taken[0].orThrow()) == .reserved)

            let retried = try await world.reserve(client, token: try await world.token(941), productId: 94, key: "k")
            #expect(retried.status == .created)
            let bound = try #require(retried.json["reservationId"] as? String)
            #expect(bound != lost.text, "the ledger never saw the lost attempt")
            #expect(try await redis.command(["ZSCORE", RedisArgument(keys.tentatives), RedisArgument(lost.text)]).string == nil)
            // Once the retry is projected, the copy counts its unit once: one is left to sell.
            #expect(try await eventually {
                try await ProjectedProduct.read(keys, on: redis).reservations[bound]?.hasPrefix("reserved") == true
            })
            #expect(try await ProjectedProduct.read(keys, on: redis).config["available"] == "1")
            #expect(try await world.reserve(client, token: try await world.token(942), productId: 94, key: "b").status == .created)
        }
    }

    /// Found by the chaos run: when a killed node came back, its expiry gave a dozen units back
    /// in the ledger at once, while the projector waited for the consumer group's rebalance. For
    /// the settle time the copy did not count as behind, and buyers were told `sold-out`. Units
    /// the ledger has beyond all the gate holds for attempts in flight are sold by the ledger,
    /// however current the copy looks; units the gate holds for such attempts are not.
    @Test func aSoldOutWhileTheLedgerHasUnitsBeyondTheAttemptsInFlightIsDecidedByTheLedger() async throws {
        try await APIWorld.run { world, client in
            let keys = try await Self.listProjected(world, client, id: 95, stock: 3, limitPerUser: 3)
            let redis = world.world.fixture.redis
            // The copy is current by position and says none left: a give-back just recorded.
            _ = try await redis.command(["HSET", RedisArgument(keys.config), "available", "0"])
            let sold = try await world.reserve(client, token: try await world.token(951), productId: 95, key: "a")
            #expect(sold.status == .created)
            #expect(try await world.world.harness.reader.product(95)?.reservedUnits == 1)

            // An attempt in flight holds the other two in the gate: the ledger has none beyond it.
            let soldId = try #require(sold.json["reservationId"] as? String)
            #expect(try await eventually { try await ProjectedProduct.read(keys, on: redis).reservations[soldId] != nil })
            _ = try await redis.command(["HSET", RedisArgument(keys.config), "available", "2"])
            try await Task.sleep(for: .milliseconds(world.world.harness.limits.gateRefusalRecheckMs + 50))
            let taken = try await redis.evaluate([RedisScriptCall(
                ProjectionScripts.gate, keys: keys.all.map { RedisArgument($0) },
                arguments: ["952", "2", RedisArgument(ReservationID.v7().text), "", RedisArgument(Timestamp.now().epochMs)])])
            #expect(try GateDecision(reply: taken[0].orThrow()) == .reserved)
            #expect(try await world.reserve(client, token: try await world.token(953), productId: 95, key: "c").problemCode == "sold-out")
            #expect(try await world.world.harness.reader.product(95)?.reservedUnits == 1)
        }
    }

    /// Found by the chaos run: a user's reservation expired in the ledger, and 37 ms later the
    /// user's next attempt passed the gate, whose copy had not applied the expiry yet (within the
    /// settle time it did not count as behind). The gate then counted the expired unit and the new
    /// attempt, and told the user `limit-exceeded` while the ledger held one unit for them.
    /// When the ledger's count and the user's attempts in flight leave room, the ledger decides;
    /// when an attempt in flight takes the room, the refusal stands.
    @Test func aLimitWhileTheUsersHoldingsLeaveRoomIsDecidedByTheLedger() async throws {
        try await APIWorld.run { world, client in
            let keys = try await Self.listProjected(world, client, id: 96, stock: 5, limitPerUser: 1)
            let redis = world.world.fixture.redis
            // The copy is current by position and says user 961 holds their one unit: an
            // expiry just recorded in the ledger.
            _ = try await redis.command(["HSET", RedisArgument(keys.users), "961", "1"])
            #expect(try await world.reserve(client, token: try await world.token(961), productId: 96, key: "a").status == .created)
            #expect(try await world.reserve(client, token: try await world.token(961), productId: 96, key: "b").problemCode == "limit-exceeded")
            #expect(try await world.world.harness.reader.heldUnits(productId: 96, userId: 961, recordedAmong: []).held == 1)

            // User 962's attempt in flight holds their one unit in the gate: no room.
            let taken = try await redis.evaluate([RedisScriptCall(
                ProjectionScripts.gate, keys: keys.all.map { RedisArgument($0) },
                arguments: ["962", "1", RedisArgument(ReservationID.v7().text), "", RedisArgument(Timestamp.now().epochMs)])])
            #expect(try GateDecision(reply: taken[0].orThrow()) == .reserved)
            #expect(try await world.reserve(client, token: try await world.token(962), productId: 96, key: "c").problemCode == "limit-exceeded")
            #expect(try await world.world.harness.reader.heldUnits(productId: 96, userId: 962, recordedAmong: []).held == 0)
        }
    }

    /// Found by the chaos run: with the brokers down, the copy kept the tentatives of attempts
    /// the ledger had committed (the projector confirms them), and for the settle time after a
    /// restock they counted as units in flight a second time: buyers were told `sold-out` while
    /// the ledger had units. A tentative the ledger has recorded holds nothing in flight, for
    /// the product's units and for the user's.
    @Test func tentativesTheLedgerCommittedHoldNoUnitsInFlight() async throws {
        try await APIWorld.run { world, client in
            let keys = try await Self.listProjected(world, client, id: 98, stock: 4, limitPerUser: 3)
            let redis = world.world.fixture.redis
            func projected(_ id: String) async throws -> Bool {
                try await eventually { try await ProjectedProduct.read(keys, on: redis).reservations[id]?.hasPrefix("reserved") == true }
            }
            let first = try await world.reserve(client, token: try await world.token(981), productId: 98, quantity: 2, key: "a")
            #expect(first.status == .created)
            let committed = try #require(first.json["reservationId"] as? String)
            #expect(try await projected(committed))
            // The copy as the stall leaves it: the committed attempt still tentative, current by
            // position; and it counts a unit user 981 no longer holds (an expiry not applied).
            _ = try await redis.command(["HSET", RedisArgument(keys.reservations), RedisArgument(committed), "tentative|981|2|a"])
            _ = try await redis.command(["ZADD", RedisArgument(keys.tentatives), RedisArgument(Timestamp.now().epochMs), RedisArgument(committed)])
            _ = try await redis.command(["HSET", RedisArgument(keys.users), "981", "3"])
            let committedId = try #require(ReservationID(committed))
            let reading = try await world.world.harness.reader.stockAndSettledPosition(
                98, settledBefore: .now(), recordedAmong: [committedId, ReservationID.v7()])
            #expect(reading?.available == 2 && reading?.recordedUnits == 2, "the unknown id records nothing")

            let second = try await world.reserve(client, token: try await world.token(981), productId: 98, key: "b")
            #expect(second.status == .created, "user 981 holds 2 of 3 in the ledger: \(second.problemCode ?? "")")
            #expect(try await projected(try #require(second.json["reservationId"] as? String)))
            // And the copy lacks the last unit the ledger has (a give-back just recorded).
            _ = try await redis.command(["HSET", RedisArgument(keys.config), "available", "0"])
            let third = try await world.reserve(client, token: try await world.token(982), productId: 98, key: "c")
            #expect(third.status == .created, "the ledger has a unit no attempt in flight holds: \(third.problemCode ?? "")")
            #expect(try await world.world.harness.reader.product(98)?.reservedUnits == 4)
        }
    }

    @Test func aCurrentCopysRefusalStandsAndTheLedgerIsReadOncePerInterval() async throws {
        typealias Reading = LedgerStockCheck.Reading
        let reads = Atomic<Int>(0)
        let reading = Mutex(Reading(available: 3, settledPosition: 10, appliedPosition: 10))
        let check = LedgerStockCheck(maxAgeMs: 200, maxProducts: 4) { productId in
            reads.add(1, ordering: .relaxed)
            guard productId != 13 else { throw PostgresError(code: .connectionFailed, message: "the test's outage") }
            return productId == 14 ? nil : reading.withLock { $0 }
        } readUser: { _, _ in
            Issue.record("a sold-out never reads a user's holdings")
            return .init(heldUnits: 0, tentativeUnits: 0)
        }
        // Units in the ledger the gate lacks are its tentatives in flight: the gate stands.
        #expect(await check.ledgerDecides(11, needing: 1) == false)
        #expect(await check.ledgerDecides(11, needing: nil) == false)
        reading.withLock { $0.appliedPosition = 9 }
        #expect(await check.ledgerDecides(11, needing: 1) == false, "the reading of the last read, within the interval")
        #expect(reads.load(ordering: .relaxed) == 1)
        try await Task.sleep(for: .milliseconds(250))
        #expect(await check.ledgerDecides(11, needing: 3), "behind, and the ledger has the units")
        #expect(await check.ledgerDecides(11, needing: nil), "behind: a limit refusal goes to the ledger")
        #expect(await check.ledgerDecides(11, needing: 4) == false, "behind, but the ledger has fewer units")
        check.recordSoldOut(11)
        #expect(await check.ledgerDecides(11, needing: 1) == false, "the ledger itself said sold out")
        #expect(reads.load(ordering: .relaxed) == 2)
        // A sold-out does not extend the reading's life: it is read again on schedule.
        try await Task.sleep(for: .milliseconds(250))
        check.recordSoldOut(11)
        #expect(await check.ledgerDecides(11, needing: 1), "read again: behind, and the ledger has the units")
        #expect(reads.load(ordering: .relaxed) == 3)
        #expect(Reading(available: 1, settledPosition: 5, appliedPosition: 5, holdsUnsettledTentatives: true).gateIsBehind, "units held by a dead attempt")
        let current = Reading(available: 5, settledPosition: 5, appliedPosition: 5, tentativeUnits: 2)
        #expect(current.ledgerHasUnitsBeyondTentatives(3) && !current.ledgerHasUnitsBeyondTentatives(4))
        #expect(!Reading(available: 5, settledPosition: 5, appliedPosition: 5).ledgerHasUnitsBeyondTentatives(1), "tentatives not summed")
        let user = LedgerStockCheck.UserReading(heldUnits: 1, tentativeUnits: 1)
        #expect(user.leavesRoom(for: 1, limitPerUser: 3) && !user.leavesRoom(for: 2, limitPerUser: 3))
        #expect(!LedgerStockCheck.UserReading(heldUnits: 0, tentativeUnits: nil).leavesRoom(for: 1, limitPerUser: 3), "tentatives not summed")
        #expect(await check.ledgerDecides(13, needing: 1), "the ledger could not be read: it decides")
        #expect(await check.ledgerDecides(14, needing: 1) == false, "no such product: nothing to sell")

        // While the first read of a product is on its way, other callers wait for it.
        let slow = LedgerStockCheck(maxAgeMs: 200, maxProducts: 4) { _ in
            try await Task.sleep(for: .milliseconds(300))
            return Reading(available: 5, settledPosition: 2, appliedPosition: 1)
        } readUser: { _, _ in .init(heldUnits: 0, tentativeUnits: 0) }
        async let first = slow.ledgerDecides(15, needing: 1)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await slow.ledgerDecides(15, needing: 6) == false)
        #expect(await first)
    }

    /// Found by the chaos run: a read started during a Redis freeze waited for the freeze, and
    /// meanwhile every refusal got the reading from before it, though units had come back in
    /// the ledger since: buyers were told `sold-out` for two seconds. A previous reading serves
    /// callers while a read is on its way only if it is less than two intervals old.
    @Test func aReadStuckOnAFrozenDependencyDoesNotKeepAnOldReadingAlive() async throws {
        typealias Reading = LedgerStockCheck.Reading
        let reads = Atomic<Int>(0)
        let check = LedgerStockCheck(maxAgeMs: 1_000, maxProducts: 4) { _ in
            let read = reads.add(1, ordering: .relaxed).oldValue
            guard read > 0 else { return Reading(available: 0, settledPosition: 4, appliedPosition: 4) }
            if read == 1 { try await Task.sleep(for: .seconds(3)) }  // the frozen dependency
            return Reading(available: 9, settledPosition: 6, appliedPosition: 4)
        } readUser: { _, _ in .init(heldUnits: 0, tentativeUnits: 0) }
        #expect(await check.ledgerDecides(16, needing: 1) == false)
        let firstReadAt = ContinuousClock.now
        // Intervals of a second: a busy test run may pause this task for a good part of one.
        try await Task.sleep(until: firstReadAt + .milliseconds(1_100), clock: .continuous)
        async let stuck = check.ledgerDecides(16, needing: 1)
        while reads.load(ordering: .relaxed) < 2 { try await Task.sleep(for: .milliseconds(5)) }  // the stuck read began
        #expect(await check.ledgerDecides(16, needing: 1) == false, "less than two intervals old: the previous reading serves")
        try await Task.sleep(until: firstReadAt + .milliseconds(2_300), clock: .continuous)
        let waited = ContinuousClock.now
        #expect(await check.ledgerDecides(16, needing: 1), "older: wait for the read, which finds the units")
        #expect(ContinuousClock.now - waited > .seconds(1))
        #expect(await stuck)
        #expect(reads.load(ordering: .relaxed) == 3, "the stuck read began before the last refusal: a new one confirms the units")
    }

    /// Found by the burst test once the ledger's count of units in flight was exact: a shared
    /// reading a moment old said the ledger had units, which the gate's attempts had taken since,
    /// and every loser went to the ledger past the degraded path's cap (503). A reading begun
    /// before a refusal serves a "refuse"; "the ledger has units" needs a read begun after it.
    @Test func onlyAReadBegunAfterTheRefusalSendsItToTheLedger() async {
        typealias Reading = LedgerStockCheck.Reading
        let reads = Atomic<Int>(0)
        let ledger = Mutex(Reading(available: 5, settledPosition: 3, appliedPosition: 3, tentativeUnits: 0))
        let check = LedgerStockCheck(maxAgeMs: 60_000, maxProducts: 4) { _ in
            reads.add(1, ordering: .relaxed)
            return ledger.withLock { $0 }
        } readUser: { _, _ in .init(heldUnits: 0, tentativeUnits: 0) }
        #expect(await check.ledgerDecides(17, needing: 1), "its own read found units beyond the attempts in flight")
        ledger.withLock { $0.tentativeUnits = 5 }  // the gate's attempts took them
        #expect(await check.ledgerDecides(17, needing: 1) == false, "the shared reading said units: read again, and they are taken")
        #expect(reads.load(ordering: .relaxed) == 2)
        ledger.withLock { $0.tentativeUnits = 0 }
        #expect(await check.ledgerDecides(17, needing: 1) == false, "a shared reading's refusal serves without a read")
        #expect(reads.load(ordering: .relaxed) == 2)
    }
}
