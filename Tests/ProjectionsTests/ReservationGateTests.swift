import Foundation
import Ledger
import Projections
import TestSupport
import Testing

/// The gate, rollback and apply scripts against a real Redis.
@Suite(.timeLimit(.minutes(3))) struct ReservationGateTests {
    /// A gate over a 2-connection pipelined pool, in a namespace of its own.
    private func withGate(_ body: @escaping @Sendable (ReservationGate, ProjectionFixture) async throws -> Void) async throws {
        try await ProjectionFixture.run { fixture in
            let pool = try await RedisPipelinePool.connect(url: fixture.redisURL, connections: 2, maxPipelineLength: 512, maxQueueDepth: 20_000)
            let generation = ProjectionGeneration(
                connection: try await RedisConnection.connect(url: fixture.redisURL), namespace: fixture.namespace, refreshMs: 1_000)
            try await withRunning([pool]) {
                try await body(ReservationGate(pool: pool, generation: generation), fixture)
            }
            await generation.close()
        }
    }

    /// Lists a product in the read model the way the projector does: the apply script.
    private func list(_ fixture: ProjectionFixture, productId: Int64, stock: Int64, limitPerUser: Int64 = 5, position: Int64 = 1) async throws {
        try await apply(fixture, .productListed(LedgerHarness.listing(productId: productId, stock: stock, limitPerUser: limitPerUser)), position: position)
    }

    @discardableResult
    private func apply(_ fixture: ProjectionFixture, _ event: LedgerEvent, position: Int64) async throws -> Int64? {
        try await fixture.redis.evaluate(
            ProjectionScripts.apply, keys: try await fixture.keys().product(event.productId).all.map { RedisArgument($0) },
            arguments: ProjectionScripts.applyArguments(event, position: position)
        ).integer
    }

    private func reserve(_ gate: ReservationGate, productId: Int64, userId: Int64, quantity: Int64 = 1, key: String? = nil, id: ReservationID = .v7()) async throws -> GateDecision {
        try await gate.reserve(productId: productId, userId: userId, quantity: quantity, reservationId: id, idempotencyKey: key, now: .now())
    }

    @Test func aThousandConcurrentCallsOnStockOfAHundredTakeExactlyAHundred() async throws {
        try await withGate { gate, fixture in
            try await list(fixture, productId: 1, stock: 100)
            let decisions = try await withThrowingTaskGroup(of: GateDecision.self) { group in
                for user in 1...1_000 {
                    group.addTask { try await reserve(gate, productId: 1, userId: Int64(user)) }
                }
                return try await group.reduce(into: [GateDecision]()) { $0.append($1) }
            }
            #expect(decisions.filter { $0 == .reserved }.count == 100)
            #expect(decisions.filter { $0 == .soldOut }.count == 900)
            let product = try await fixture.product(1)
            #expect(product.config["available"] == "0")
            #expect(product.config["soldOut"] == "1")
            #expect(product.tentatives.count == 100)
            #expect(product.users.values.reduce(0) { $0 + Int($1)! } == 100)
            #expect(product.reservations.values.allSatisfy { $0.hasPrefix("tentative|") })
        }
    }

    @Test func oneUserFiringTwentyCallsGetsOnlyTheLimit() async throws {
        try await withGate { gate, fixture in
            try await list(fixture, productId: 2, stock: 1_000, limitPerUser: 2)
            let decisions = try await withThrowingTaskGroup(of: GateDecision.self) { group in
                for _ in 1...20 {
                    group.addTask { try await reserve(gate, productId: 2, userId: 7) }
                }
                return try await group.reduce(into: [GateDecision]()) { $0.append($1) }
            }
            #expect(decisions.filter { $0 == .reserved }.count == 2)
            #expect(decisions.filter { $0 == .limitExceeded }.count == 18)
            #expect(try await fixture.product(2).users == ["7": "2"])
            #expect(try await reserve(gate, productId: 2, userId: 8, quantity: 3) == .limitExceeded, "one call above the limit")
        }
    }

    @Test func oneIdempotencyKeyGivesOneReservation() async throws {
        try await withGate { gate, fixture in
            try await list(fixture, productId: 3, stock: 10)
            let attempts = (1...20).map { _ in ReservationID.v7() }
            let decisions = try await withThrowingTaskGroup(of: (ReservationID, GateDecision).self) { group in
                for id in attempts {
                    group.addTask { (id, try await reserve(gate, productId: 3, userId: 9, key: "order-1", id: id)) }
                }
                return try await group.reduce(into: [(ReservationID, GateDecision)]()) { $0.append($1) }
            }
            let winners = decisions.filter { $0.1 == .reserved }.map(\.0)
            #expect(winners.count == 1)
            #expect(decisions.filter { $0.1 == .duplicate(winners[0]) }.count == 19)
            let product = try await fixture.product(3)
            #expect(product.config["available"] == "9")
            #expect(product.idempotencyKeys == ["9:order-1": winners[0].text])
        }
    }

    @Test func theSaleWindowIsChecked() async throws {
        try await withGate { gate, fixture in
            let now = Timestamp.now()
            try await apply(fixture, .productListed(LedgerHarness.listing(productId: 4, stock: 5, startsAt: now.adding(seconds: 60), endsAt: now.adding(seconds: 120))), position: 1)
            try await apply(fixture, .productListed(LedgerHarness.listing(productId: 5, stock: 5, startsAt: now.adding(seconds: -120), endsAt: now.adding(seconds: -60))), position: 2)
            #expect(try await reserve(gate, productId: 4, userId: 1) == .notStarted)
            #expect(try await reserve(gate, productId: 5, userId: 1) == .ended)
            #expect(try await reserve(gate, productId: 6, userId: 1) == .unknownProduct)
        }
    }

    /// The scripts write `soldOut` only when the available stock crosses zero: it must still
    /// follow the stock both ways, from a listing without stock on.
    @Test func theSoldOutFlagFollowsTheStockAcrossZeroBothWays() async throws {
        try await withGate { gate, fixture in
            let listing = LedgerHarness.listing(productId: 30, stock: 0)
            try await apply(fixture, .productListed(listing), position: 1)
            #expect(try await fixture.product(30).config["soldOut"] == "1", "a listing without stock is sold out")
            #expect(try await apply(fixture, .stockAdded(StockAdded(productId: 30, quantity: 2)), position: 2) == 1)
            #expect(try await fixture.product(30).config["soldOut"] == "0")
            let last = ReservationID.v7()
            #expect(try await reserve(gate, productId: 30, userId: 1) == .reserved)
            #expect(try await fixture.product(30).config["soldOut"] == "0", "one unit is left")
            #expect(try await reserve(gate, productId: 30, userId: 2, id: last) == .reserved)
            #expect(try await fixture.product(30).config["soldOut"] == "1")
            #expect(try await gate.rollback(productId: 30, reservationId: last) == true)
            #expect(try await fixture.product(30).config["soldOut"] == "0", "the unit is back on sale")
            #expect(try await reserve(gate, productId: 30, userId: 3) == .reserved)
            let expected = ProductState(listing: listing, streamVersion: 2, totalStock: 2, reservedUnits: 2)
            #expect(try await fixture.product(30).config == ProjectedProduct(expected: expected, appliedPosition: 2).config)
        }
    }

    @Test func rollbackUndoesATentativeOnceAndIsSafeOnMissingKeys() async throws {
        try await withGate { gate, fixture in
            try await list(fixture, productId: 10, stock: 3)
            let before = try await fixture.dump()
            let id = ReservationID.v7()
            #expect(try await reserve(gate, productId: 10, userId: 5, quantity: 2, key: "k", id: id) == .reserved)
            #expect(try await gate.rollback(productId: 10, reservationId: id) == true)
            #expect(try await gate.rollback(productId: 10, reservationId: id) == false, "a second rollback changes nothing")
            #expect(try await fixture.dump() == before, "the read model is byte for byte what it was before the gate")
            #expect(try await gate.rollback(productId: 999, reservationId: id) == false)
            #expect(try await fixture.keyNames().allSatisfy { !$0.contains("{p:999}") }, "a rollback creates no keys")
        }
    }

    @Test func projectingAReservationConfirmsATentativeAndCountsAnUnseenOne() async throws {
        try await withGate { gate, fixture in
            try await list(fixture, productId: 20, stock: 10)
            let seen = ReservationID.v7()
            let unseen = ReservationID.v7()
            #expect(try await reserve(gate, productId: 20, userId: 1, quantity: 2, key: "a", id: seen) == .reserved)
            func reserved(_ id: ReservationID, user: Int64, quantity: Int64, key: String?) -> LedgerEvent {
                .stockReserved(StockReserved(
                    reservationId: id, productId: 20, userId: user, quantity: quantity, unitPriceMinor: 1999,
                    expiresAt: .now().adding(seconds: 600), idempotencyKey: key))
            }
            #expect(try await apply(fixture, reserved(seen, user: 1, quantity: 2, key: "a"), position: 2) == 1)
            var product = try await fixture.product(20)
            #expect(product.config["available"] == "8", "the gate already counted it")
            #expect(product.reservations[seen.text] == "reserved|1|2|a")
            #expect(product.tentatives.isEmpty)

            #expect(try await apply(fixture, reserved(unseen, user: 2, quantity: 3, key: nil), position: 3) == 1)
            product = try await fixture.product(20)
            #expect(product.config["available"] == "5")
            #expect(product.users == ["1": "2", "2": "3"])

            let revert = LedgerEvent.reservationReverted(ReservationReverted(reservationId: unseen, productId: 20, userId: 2, quantity: 3, reason: .expired))
            #expect(try await apply(fixture, revert, position: 4) == 1)
            let afterRevert = try await fixture.dump()
            #expect(try await apply(fixture, revert, position: 4) == 0, "a redelivered event is skipped")
            #expect(try await apply(fixture, reserved(unseen, user: 2, quantity: 3, key: nil), position: 3) == 0)
            #expect(try await fixture.dump() == afterRevert)
            product = try await fixture.product(20)
            #expect(product.config["available"] == "8")
            #expect(product.users == ["1": "2"])
            #expect(product.reservations[unseen.text] == "expired|2|3|")
            #expect(try await gate.rollback(productId: 20, reservationId: seen) == false, "a reservation the ledger holds is not rolled back")

            let confirm = LedgerEvent.orderConfirmed(OrderConfirmed(reservationId: seen, productId: 20, userId: 1, orderId: UUID.v7().lowercased, paymentRef: "pay"))
            #expect(try await apply(fixture, confirm, position: 5) == 1)
            #expect(try await fixture.product(20).reservations[seen.text] == "confirmed|1|2|a")
        }
    }

    /// What a refusal check reads of the copy, in one call: the applied position, when the
    /// oldest tentative was taken, and the tentatives with their units and whose they are (a
    /// projected reservation or a rolled-back attempt is no longer one; too many are not listed).
    @Test func holdingsListTheTentativesOnly() async throws {
        try await withGate { gate, fixture in
            try await list(fixture, productId: 21, stock: 10, position: 4)
            let keys = try await fixture.keys().product(21)
            #expect(try await GateHoldings.read(keys, on: fixture.redis, maxTentatives: 10) == GateHoldings(appliedPosition: 4, oldestTentativeMs: nil, tentatives: []))
            let before = Timestamp.now().epochMs
            let (projected, rolledBack) = (ReservationID.v7(), ReservationID.v7())
            #expect(try await reserve(gate, productId: 21, userId: 1, quantity: 2, id: projected) == .reserved)
            #expect(try await reserve(gate, productId: 21, userId: 2, quantity: 3, id: rolledBack) == .reserved)
            let third = ReservationID.v7()
            #expect(try await reserve(gate, productId: 21, userId: 3, quantity: 4, id: third) == .reserved)
            var holdings = try await GateHoldings.read(keys, on: fixture.redis, maxTentatives: 10, userId: 2)
            #expect(holdings.tentatives?.units == 9)
            #expect(Set(holdings.tentatives?.map(\.reservationId) ?? []) == [projected, rolledBack, third])
            #expect(holdings.userTentatives == [GateHoldings.Tentative(reservationId: rolledBack, units: 3, isAskedUsers: true)])
            #expect(try await GateHoldings.read(keys, on: fixture.redis, maxTentatives: 10, userId: 4).userTentatives == [])
            #expect(holdings.oldestTentativeMs.map { (before...Timestamp.now().epochMs).contains($0) } == true)
            let unsummed = try await GateHoldings.read(keys, on: fixture.redis, maxTentatives: 2, userId: 2)
            #expect(unsummed.tentatives == nil && unsummed.userTentatives == nil, "three are more than two")

            let reserved = StockReserved(
                reservationId: projected, productId: 21, userId: 1, quantity: 2, unitPriceMinor: 1999,
                expiresAt: .now().adding(seconds: 600), idempotencyKey: nil)
            #expect(try await apply(fixture, .stockReserved(reserved), position: 5) == 1)
            #expect(try await gate.rollback(productId: 21, reservationId: rolledBack))
            holdings = try await GateHoldings.read(keys, on: fixture.redis, maxTentatives: 10, userId: 2)
            #expect(holdings.appliedPosition == 5)
            #expect(holdings.tentatives == [GateHoldings.Tentative(reservationId: third, units: 4)], "only the third is still tentative")
            #expect(holdings.userTentatives == [], "user 2's attempt was rolled back")
        }
    }
}
