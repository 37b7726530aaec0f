import Foundation
import Ledger
import Testing

@Suite struct JSONObjectWriterTests {
    /// Integers are written digit by digit; they must read as JSONSerialization reads them,
    /// the extremes and the sign included.
    @Test func integersAndNamesAreWrittenAsJSON() throws {
        let values: [Int64] = [0, 7, -1, 10, 1_764_000_000_123, -9_999, .max, .min]
        for value in values {
            var writer = JSONObjectWriter()
            writer.field("a", value)
            writer.field("b", json: #"{"c":1}"#)
            writer.field("d", "é\"")
            let text = writer.finish()
            #expect(text == #"{"a":\#(value),"b":{"c":1},"d":"é\""}"#)
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect((parsed["a"] as? NSNumber)?.int64Value == value)
        }
    }
}
