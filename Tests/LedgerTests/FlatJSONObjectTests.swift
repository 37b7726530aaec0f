import Foundation
import Testing

@testable import Ledger

/// The fast parser itself (EventCodec falls back to JSONDecoder when it declines, so the codec
/// tests alone would not notice a parser that declines everything).
@Suite struct FlatJSONObjectTests {
    @Test func parsesWhatTheLedgerAndOtherWritersProduce() throws {
        let written = EventCodec.encode(.stockReserved(StockReserved(
            reservationId: ReservationID("0190f3f0-0000-7000-8000-000000000001")!, productId: 1, userId: 2, quantity: 3, unitPriceMinor: -4, expiresAt: Timestamp(epochMs: 5), idempotencyKey: "k\"\\é")))
        let object = try #require(FlatJSONObject(written))
        #expect(object.string("reservationId") == "0190f3f0-0000-7000-8000-000000000001")
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

    /// Keeping some fields parses as strictly as keeping all (a skipped field is checked, not
    /// trusted) and gives exactly the full parse's kept fields, in order.
    @Test func keepingSomeFieldsDeclinesWhatTheFullParseDeclinesAndKeepsTheSameValues() {
        let keys: [StaticString] = ["data", "n"]
        let accepted = [
            #"{"data":{"x":"}{\"","y":{"z":1}},"eventId":"e\u00e9","n":2,"b":true,"z":null}"#,
            #"{"skip":"\"quoted\"","d\u0061ta":{"kept":"through an escaped key"}}"#,
            #"{"other":1}"#, "{}",
        ]
        let declined = [
            #"{"data":{"x":1},"skip":"\q"}"#, #"{"sk\qip":1,"data":{}}"#, #"{"skip":"\ud83d","data":{}}"#,
            #"{"skip":[1],"data":{}}"#, #"{"skip":1.5}"#, #"{"skip":{"a":1}"#, #"{"skip":tru}"#, #"{"skip":"x""#, #"{"n":1} x"#,
        ]
        for text in accepted + declined {
            let kept = Array(text.utf8).withUnsafeBytes { FlatJSONObject(utf8: $0, keeping: keys) }
            let full = FlatJSONObject(text)
            #expect((kept == nil) == (full == nil), "\(text)")
            let expected = full?.fields.filter { field in keys.contains { $0.description == field.key } }
            #expect(kept?.fields.map(\.key) == expected?.map(\.key), "\(text)")
            #expect(kept?.fields.map(\.value) == expected?.map(\.value), "\(text)")
        }
        for text in declined {
            #expect(Array(text.utf8).withUnsafeBytes { FlatJSONObject(utf8: $0, keeping: keys) } == nil, "\(text)")
        }
        let escapedKey = Array(accepted[1].utf8).withUnsafeBytes { FlatJSONObject(utf8: $0, keeping: keys) }
        #expect(escapedKey?.object("data") == #"{"kept":"through an escaped key"}"#)
        #expect(escapedKey?.fields.count == 1, "the skipped field is not kept")
    }

    @Test func canonicalTimestampsParseWithoutTheFormatter() {
        for ms: Int64 in [0, 86_399_999, 951_782_400_000, 1_764_000_000_123, 4_102_444_799_999] {
            #expect(Timestamp.epochMs(canonical: Timestamp(epochMs: ms).iso8601) == ms)
        }
        #expect(Timestamp.epochMs(canonical: "2026-11-24T18:00:00Z") == nil)
    }
}
