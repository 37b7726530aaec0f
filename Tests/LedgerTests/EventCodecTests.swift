import Foundation
import Ledger
import Testing

@Suite struct EventCodecTests {
    @Test func everyEventRoundTripsThroughItsJSONForm() throws {
        let reservationId = UUID.v7().lowercased
        let events: [LedgerEvent] = [
            .productListed(ProductListed(
                productId: 1, name: "Phone \"X\" / 5G", priceMinor: 129_900, currency: "CNY", stock: 300,
                startsAt: Timestamp(epochMs: 1_764_000_000_123), endsAt: Timestamp(epochMs: 1_764_003_600_000),
                limitPerUser: 2, reservationTTLSeconds: 900)),
            .stockAdded(StockAdded(productId: 1, quantity: 50)),
            .stockReserved(StockReserved(
                reservationId: reservationId, productId: 1, userId: 42, quantity: 2, unitPriceMinor: 129_900,
                expiresAt: Timestamp(epochMs: 1_764_000_900_999), idempotencyKey: "k-1")),
            .reservationReverted(ReservationReverted(reservationId: reservationId, productId: 1, userId: 42, quantity: 2, reason: .paymentFailed)),
            .orderConfirmed(OrderConfirmed(reservationId: reservationId, productId: 1, userId: 42, orderId: UUID.v7().lowercased, paymentRef: "pay-9")),
        ]
        for event in events {
            let json = EventCodec.encode(event)
            #expect(EventCodec.encode(event) == json, "stable bytes")
            #expect(try EventCodec.decode(type: event.type, schemaVersion: event.schemaVersion, data: json) == event)
        }
        #expect(EventCodec.encode(events[2]).contains(#""expiresAt":"2025-11-24T16:15:00.999Z""#))
        #expect(EventCodec.encode(events[0]).contains(#""priceMinor":129900"#), "money is an integer of minor units")
    }

    @Test func aVersionOneRevertIsUpcastToTodaysType() throws {
        let v1 = #"{"reservationId":"0190f3f0-0000-7000-8000-000000000001","productId":3,"userId":4,"quantity":1}"#
        let event = try EventCodec.decode(type: "ReservationReverted", schemaVersion: 1, data: v1)
        #expect(event == .reservationReverted(ReservationReverted(
            reservationId: "0190f3f0-0000-7000-8000-000000000001", productId: 3, userId: 4, quantity: 1, reason: .cancelled)))
        #expect(event.schemaVersion == 2)
        #expect(throws: EventCodec.DecodingFailure.self) { try EventCodec.decode(type: "ReservationReverted", schemaVersion: 3, data: v1) }
        #expect(throws: EventCodec.DecodingFailure.self) { try EventCodec.decode(type: "Unheard", schemaVersion: 1, data: "{}") }
    }

    @Test func timestampsFormatAndParseExactly() throws {
        for ms: Int64 in [0, 1, 999, 951_782_400_000, 1_764_000_000_123, 4_102_444_799_999, -1, -86_400_001] {
            let stamp = Timestamp(epochMs: ms)
            #expect(Timestamp(iso8601: stamp.iso8601) == stamp, "\(ms) → \(stamp.iso8601)")
        }
        #expect(Timestamp(epochMs: 951_782_400_000).iso8601 == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp(iso8601: "2026-11-24T18:00:00+02:00") == Timestamp(iso8601: "2026-11-24T16:00:00Z"))
        #expect(Timestamp(iso8601: "yesterday") == nil)
    }

    @Test func uuidV7IsTimeOrderedAndVersioned() {
        let early = UUID.v7(at: Timestamp(epochMs: 1_000))
        let late = UUID.v7(at: Timestamp(epochMs: 2_000))
        #expect(early.lowercased < late.lowercased)
        #expect(Array(early.lowercased)[14] == "7")
    }
}

@Suite struct EventJSONFormTests {
    /// The hand-written encoder must agree with JSONEncoder (sorted keys) and escape strings.
    @Test func encodedDataMatchesFoundationsSortedForm() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let listed = ProductListed(
            productId: 9, name: "quote \" back\\slash\nnew line \u{01} ünï 🛒", priceMinor: 1, currency: "USD", stock: 2,
            startsAt: Timestamp(epochMs: 5), endsAt: Timestamp(epochMs: 6), limitPerUser: 3, reservationTTLSeconds: 4)
        let reserved = StockReserved(
            reservationId: "0190f3f0-0000-7000-8000-000000000001", productId: 1, userId: 2, quantity: 3, unitPriceMinor: 4,
            expiresAt: Timestamp(epochMs: 1_764_000_000_000), idempotencyKey: nil)
        #expect(EventCodec.encode(.productListed(listed)) == String(decoding: try encoder.encode(listed), as: UTF8.self))
        #expect(EventCodec.encode(.stockReserved(reserved)) == String(decoding: try encoder.encode(reserved), as: UTF8.self))
        let metadata = EventMetadata(correlationId: "c", requestId: "r\"", actor: "user:1")
        #expect(EventCodec.encode(metadata) == String(decoding: try encoder.encode(metadata), as: UTF8.self))
        #expect(try EventCodec.decodeMetadata(EventCodec.encode(metadata)) == metadata)
    }
}

@Suite struct UUIDTextTests {
    @Test func lowercasedMatchesFoundationAndCanonicalCheckAgrees() {
        for _ in 0..<1_000 {
            let id = UUID()
            #expect(id.lowercased == id.uuidString.lowercased())
            #expect(UUID.isCanonical(id.lowercased))
            #expect(!UUID.isCanonical(id.uuidString))  // upper case
        }
        #expect(!UUID.isCanonical("0190f3f0-0000-7000-8000-00000000000"))  // short
        #expect(!UUID.isCanonical("0190f3f0-0000-7000-8000-0000000000001"))  // long
        #expect(!UUID.isCanonical("0190f3f0x0000-7000-8000-000000000001"))
        #expect(!UUID.isCanonical("0190f3f0-0000-7000-8000-00000000000g"))
    }
}
