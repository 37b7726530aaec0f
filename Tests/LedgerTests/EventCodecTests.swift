import Foundation
import Ledger
import Testing

@Suite struct EventCodecTests {
    @Test func everyEventRoundTripsThroughItsJSONForm() throws {
        let reservationId = ReservationID.v7()
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
            reservationId: ReservationID("0190f3f0-0000-7000-8000-000000000001")!, productId: 3, userId: 4, quantity: 1, reason: .cancelled)))
        #expect(event.schemaVersion == 2)
        #expect(throws: EventCodec.DecodingFailure.self) { try EventCodec.decode(type: "ReservationReverted", schemaVersion: 3, data: v1) }
        #expect(throws: EventCodec.DecodingFailure.self) { try EventCodec.decode(type: "Unheard", schemaVersion: 1, data: "{}") }
    }

    /// Data written by other JSON writers (escaped slashes, \u escapes, surrogate pairs,
    /// spaces) decodes to the same event as the writer meant.
    @Test func foreignlyEscapedDataDecodesTheSame() throws {
        let names = ["a/b", "quote \" and \\ back", "tab\tnew\nline", "é ü 秒杀 😀", "\u{01}\u{1F}", ""]
        let encoder = JSONEncoder()
        for name in names {
            let listed = ProductListed(
                productId: 9, name: name, priceMinor: 1, currency: "EUR", stock: 3, startsAt: Timestamp(epochMs: 1_000),
                endsAt: Timestamp(epochMs: 2_000), limitPerUser: 1, reservationTTLSeconds: 60)
            let foreign = String(decoding: try encoder.encode(listed), as: UTF8.self)
            #expect(try EventCodec.decode(type: "ProductListed", schemaVersion: 1, data: foreign) == .productListed(listed), "\(foreign)")
        }
        let spaced = #"{ "productId" : 4 , "quantity" : 7 }"#
        #expect(try EventCodec.decode(type: "StockAdded", schemaVersion: 1, data: spaced) == .stockAdded(StockAdded(productId: 4, quantity: 7)))
        let escapedPair = #"{"productId":1,"name":"\ud83d\ude00\u00e9","priceMinor":1,"currency":"EUR","stock":1,"startsAt":"1970-01-01T00:00:01.000Z","endsAt":"1970-01-01T00:00:02.000Z","limitPerUser":1,"reservationTTLSeconds":1}"#
        guard case .productListed(let decoded) = try EventCodec.decode(type: "ProductListed", schemaVersion: 1, data: escapedPair) else {
            Issue.record("not a listing")
            return
        }
        #expect(decoded.name == "😀é")
    }

    @Test func malformedOrMistypedDataIsRefused() {
        for data in [
            #"{"productId":"4","quantity":7}"#, #"{"productId":4}"#, #"{"productId":4,"quantity":7.5}"#,
            #"{"productId":4,"quantity":7"#, #"{"productId":99999999999999999999,"quantity":1}"#, "[]", "",
        ] {
            #expect(throws: EventCodec.DecodingFailure.self, "\(data)") { try EventCodec.decode(type: "StockAdded", schemaVersion: 1, data: data) }
        }
    }

    @Test func timestampsFormatAndParseExactly() throws {
        for ms: Int64 in [0, 1, 999, 951_782_400_000, 1_764_000_000_123, 4_102_444_799_999, -1, -86_400_001] {
            let stamp = Timestamp(epochMs: ms)
            #expect(Timestamp(iso8601: stamp.iso8601) == stamp, "\(ms) → \(stamp.iso8601)")
        }
        #expect(Timestamp(epochMs: 951_782_400_000).iso8601 == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp(epochMs: 1_764_000_000_123).iso8601 == "2025-11-24T16:00:00.123Z")
        #expect(Timestamp(epochMs: 4_102_444_799_999).iso8601 == "2099-12-31T23:59:59.999Z")
        #expect(Timestamp(epochMs: 0).iso8601 == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(iso8601: "2026-11-24T18:00:00+02:00") == Timestamp(iso8601: "2026-11-24T16:00:00Z"))
        #expect(Timestamp(iso8601: "yesterday") == nil)
        #expect(Timestamp(iso8601: "2026-13-24T18:00:00.000Z") == nil, "month 13")
        #expect(Timestamp(iso8601: "2026-11-24T18:00:00.5Z") == Timestamp(iso8601: "2026-11-24T18:00:00.500Z"), "the general parser takes other forms")
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
            reservationId: ReservationID("0190f3f0-0000-7000-8000-000000000001")!, productId: 1, userId: 2, quantity: 3, unitPriceMinor: 4,
            expiresAt: Timestamp(epochMs: 1_764_000_000_000), idempotencyKey: nil)
        #expect(EventCodec.encode(.productListed(listed)) == String(decoding: try encoder.encode(listed), as: UTF8.self))
        #expect(EventCodec.encode(.stockReserved(reserved)) == String(decoding: try encoder.encode(reserved), as: UTF8.self))
        let metadata = EventMetadata(correlationId: "c", requestId: "r\"", actor: "user:1")
        #expect(EventCodec.encode(metadata) == String(decoding: try encoder.encode(metadata), as: UTF8.self))
        #expect(try EventCodec.decodeMetadata(EventCodec.encode(metadata)) == metadata)
    }

    /// The flat fast path and JSONDecoder agree on what metadata means, including the shapes
    /// only the fallback reads and the ones both refuse.
    @Test func metadataDecodesTheSameOnTheFastPathAndTheFallback() throws {
        let all = EventMetadata(correlationId: "c\\1", causationId: "ü", requestId: "r\"", actor: "admin:7")
        #expect(try EventCodec.decodeMetadata(EventCodec.encode(all)) == all)
        #expect(try EventCodec.decodeMetadata(#"{"requestId": null, "actor": "system:expiry"}"#) == EventMetadata(actor: "system:expiry"))
        // Arrays are beyond the flat parser: JSONDecoder reads it and ignores the unknown key.
        #expect(try EventCodec.decodeMetadata(#"{"actor": "bench", "tags": [1, 2]}"#) == EventMetadata(actor: "bench"))
        for refused in [#"{"correlationId": "c"}"#, #"{"actor": 7}"#, #"{"actor": "a", "requestId": 5}"#, "[]"] {
            #expect(throws: (any Error).self, "\(refused)") { try EventCodec.decodeMetadata(refused) }
        }
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
