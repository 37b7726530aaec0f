import Ledger
import Projections
import TestSupport
import Testing

/// The read model's pure parts: key names, script arguments, reply parsing, expected state.
@Suite struct ProjectionModelTests {
    private static let id = ReservationID("0190f3f0-0000-7000-8000-00000000000a")!

    /// What a read while PostgreSQL does not answer serves: the product back from the config
    /// hash the projector writes, with the stock so far and what is left.
    @Test func aConfigHashReadsBackAsTheProduct() {
        let listing = ProductListed(
            productId: 7, name: "Phone | 2", priceMinor: 1_999, currency: "EUR", stock: 10, startsAt: Timestamp(epochMs: 1_000),
            endsAt: Timestamp(epochMs: 9_000), limitPerUser: 2, reservationTTLSeconds: 600)
        let product = ProductState(listing: listing, streamVersion: 3, totalStock: 15, reservedUnits: 4)
        let config = ProjectedProduct(expected: product, appliedPosition: 40).config
        let read = ProjectedProduct.productState(productId: 7, config: config)
        var expected = listing
        expected.stock = 15
        #expect(read == ProductState(listing: expected, streamVersion: 0, totalStock: 15, reservedUnits: 4))
        var partial = config
        partial["limitPerUser"] = nil
        #expect(ProjectedProduct.productState(productId: 7, config: partial) == nil, "a hash without the listing (projector behind, model lost)")
        #expect(ProjectedProduct.productState(productId: 7, config: [:]) == nil)
    }

    @Test func keysOfOneProductShareAHashTagAndAGeneration() {
        let keys = ProjectionKeys(namespace: "shop", generation: 3).product(42)
        #expect(keys.all.allSatisfy { $0.hasPrefix("shop:g3:{p:42}:") })
        #expect(Set(keys.all).count == 5)
        #expect(ProjectionKeys(namespace: "shop", generation: 3).next.product(42).config == "shop:g4:{p:42}:product")
        #expect(ProjectionKeys.generationPointer(namespace: "shop") == "shop:generation")
    }

    @Test func gateRepliesParseAndUnknownOnesAreErrors() throws {
        #expect(try GateDecision(reply: .array([.bulk(Array("reserved".utf8))])) == .reserved)
        #expect(try GateDecision(reply: .array([.bulk(Array("duplicate".utf8)), .bulk(Array(Self.id.text.utf8))])) == .duplicate(Self.id))
        #expect(try GateDecision(reply: .array([.bulk(Array("soldOut".utf8))])) == .soldOut)
        #expect(throws: RedisError.self) { try GateDecision(reply: .array([.bulk(Array("maybe".utf8))])) }
        #expect(throws: RedisError.self) { try GateDecision(reply: .integer(1)) }
        #expect(throws: RedisError.self) { try GateDecision(reply: .array([.bulk(Array("duplicate".utf8))])) }
        #expect(throws: RedisError.self, "a duplicate names a reservation id") {
            try GateDecision(reply: .array([.bulk(Array("duplicate".utf8)), .bulk(Array("abc".utf8))]))
        }
    }

    @Test func applyArgumentsCarryPositionTypeAndFields() {
        let reserved = LedgerEvent.stockReserved(StockReserved(
            reservationId: Self.id, productId: 1, userId: 7, quantity: 2, unitPriceMinor: 100, expiresAt: Timestamp(epochMs: 5), idempotencyKey: nil))
        #expect(ProjectionScripts.applyArguments(reserved, position: 9).map { String(decoding: $0.bytes, as: UTF8.self) }
            == ["6", "9", "StockReserved", Self.id.text, "7", "2", ""], "how many values follow, then position, type and fields")
        let listing = LedgerHarness.listing(productId: 3, stock: 10, limitPerUser: 2)
        let listed = ProjectionScripts.applyArguments(.productListed(listing), position: 1).map { String(decoding: $0.bytes, as: UTF8.self) }
        #expect(listed == ["10", "1", "ProductListed", listing.name, "1999", "EUR", String(listing.startsAt.epochMs), String(listing.endsAt.epochMs), "2", "600", "10"])
    }

    @Test func theExpectedModelFollowsTheFoldAndTentativesComeOut() {
        var state = LedgerState()
        state.apply(.productListed(LedgerHarness.listing(productId: 1, stock: 3)), position: 1)
        state.apply(.stockReserved(StockReserved(
            reservationId: Self.id, productId: 1, userId: 7, quantity: 2, unitPriceMinor: 1999, expiresAt: Timestamp(epochMs: 5), idempotencyKey: "k")), position: 2)
        var snapshot = LedgerSnapshot()
        snapshot.folded = state
        snapshot.lastPositions = [1: 2]
        let expected = snapshot.expectedProjection()[1]!
        #expect(expected.config["available"] == "1")
        #expect(expected.config["soldOut"] == "0")
        #expect(expected.config["applied"] == "2")
        #expect(expected.users == ["7": "2"])
        #expect(expected.reservations == [Self.id.text: "reserved|7|2|k"])
        #expect(expected.idempotencyKeys == ["7:k": Self.id.text])

        // The same model with a tentative of user 8 on top, as the gate leaves it.
        var live = expected
        live.config["available"] = "0"
        live.config["soldOut"] = "1"
        live.users["8"] = "1"
        live.reservations["b"] = "tentative|8|1|x|y"
        live.idempotencyKeys["8:x|y"] = "b"
        live.tentatives["b"] = 1_000
        #expect(live.withoutTentatives() == expected)
        #expect(expected.differences(from: live.withoutTentatives(), productId: 1) == [])
        live.config["total"] = "4"
        #expect(expected.differences(from: live.withoutTentatives(), productId: 1).map { $0.subject } == ["product 1 config total"])
    }
}
