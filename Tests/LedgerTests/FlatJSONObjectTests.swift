import Foundation
import Testing

@testable import Ledger

/// The fast parser itself (EventCodec falls back to JSONDecoder when it declines, so the codec
/// tests alone would not notice a parser that declines everything).
@Suite struct FlatJSONObjectTests {
    @Test func parsesWhatTheLedgerAndOtherWritersProduce() throws {
        let written = EventCodec.encode(.stockReserved(StockReserved(
            reservationId: "r", productId: 1, userId: 2, quantity: 3, unitPriceMinor: -4, expiresAt: Timestamp(epochMs: 5), idempotencyKey: "k\"\\é")))
        let object = try #require(FlatJSONObject(written))
        #expect(object.string("reservationId") == "r")
        #expect(object.int64("unitPriceMinor") == -4)
        #expect(object.string("idempotencyKey") == "k\"\\é")
        #expect(object.string("expiresAt") == "1970-01-01T00:00:00.005Z")

        let foreign = try #require(FlatJSONObject(#" { "a" : "\/\u00e9\ud83d\ude00\n" , "b" : null , "c" : true } "#))
        #expect(foreign.string("a") == "/é😀\n")
        #expect(foreign["b"] == .null)
        #expect(foreign["c"] == .bool(true))
        #expect(FlatJSONObject("{}")?.fields.isEmpty == true)

        let envelope = try #require(FlatJSONObject(#"{"data":{"x":"}{\"","y":{"z":1}},"n":2}"#))
        #expect(envelope.object("data") == #"{"x":"}{\"","y":{"z":1}}"#, "a nested object is kept as written")
        #expect(envelope.int64("n") == 2)
    }

    @Test func declinesOtherShapes() {
        for text in [#"{"a":{"b":1}"#, #"{"a":[1]}"#, #"{"a":1.5}"#, #"{"a":1e3}"#, #"{"a":"x"} x"#, #"{"a":"\ud83d"}"#, #"{"a":"\q"}"#, #"{"a":"x""#, "{", ""] {
            #expect(FlatJSONObject(text) == nil, "\(text)")
        }
    }

    @Test func bytesParseInPlaceLikeTheirString() {
        let accepted = [#"{"productId":42,"quantity":1}"#, #" { "a" : "\u00e9" , "b" : null } "#, #"{"data":{"x":1},"k":"v\"w"}"#]
        let declined = [#"{"a":[1]}"#, #"{"a":1.5}"#, "{", ""]
        for text in accepted + declined {
            let parsed = Array(text.utf8).withUnsafeBytes { FlatJSONObject(utf8: $0) }
            let reference = FlatJSONObject(text)
            #expect((parsed == nil) == (reference == nil), "\(text)")
            #expect(parsed?.fields.map(\.key) == reference?.fields.map(\.key), "\(text)")
            #expect(parsed?.fields.map(\.value) == reference?.fields.map(\.value), "\(text)")
        }
        #expect(FlatJSONObject(utf8: UnsafeRawBufferPointer(start: nil, count: 0)) == nil, "an empty body")
        let object = Array(#"{"productId":42,"quantity":1}"#.utf8).withUnsafeBytes { FlatJSONObject(utf8: $0) }
        #expect(object?.int64("productId") == 42)
        #expect(object?.int64("quantity") == 1)
    }

    @Test func canonicalTimestampsParseWithoutTheFormatter() {
        for ms: Int64 in [0, 86_399_999, 951_782_400_000, 1_764_000_000_123, 4_102_444_799_999] {
            #expect(Timestamp.epochMs(canonical: Timestamp(epochMs: ms).iso8601) == ms)
        }
        #expect(Timestamp.epochMs(canonical: "2026-11-24T18:00:00Z") == nil)
    }
}
