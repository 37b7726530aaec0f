import Foundation
import Ledger
import Testing

/// Text becomes a `ReservationID` in one place; everything that holds one relies on its form.
@Suite struct ReservationIDTests {
    @Test func onlyTheCanonicalLowerCaseFormIsAnId() {
        let canonical = "0190f3f0-0000-7000-8000-00000000000a"
        #expect(ReservationID(canonical)?.text == canonical)
        for text in [
            canonical.uppercased(), "0190f3f0000070008000000000000000a", "0190f3f0-0000-7000-8000-00000000000",
            "0190f3f0-0000-7000-8000-00000000000g", "0190f3f0_0000-7000-8000-00000000000a", "", "NOT-A-UUID",
            "0190f3f0-0000-7000-8000-00000000000a ", "0190f3f0-0000-7000-8000-00000000000\u{0}",
        ] {
            #expect(ReservationID(text) == nil, "\(text.debugDescription)")
        }
    }

    @Test func newIdsAreCanonicalAndSortByTime() {
        let earlier = ReservationID.v7(at: Timestamp(epochMs: 1_700_000_000_000))
        let later = ReservationID.v7(at: Timestamp(epochMs: 1_700_000_000_001))
        #expect(ReservationID(earlier.text) == earlier)
        #expect(earlier < later)
        #expect(ReservationID(UUID(uuidString: later.text)!) == later)
    }

    @Test func jsonCarriesTheTextAndRefusesAnythingElse() throws {
        let id = ReservationID.v7()
        let encoded = try JSONEncoder().encode([id])
        #expect(String(decoding: encoded, as: UTF8.self) == "[\"\(id.text)\"]")
        #expect(try JSONDecoder().decode([ReservationID].self, from: encoded) == [id])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([ReservationID].self, from: Data("[\"\(id.text.uppercased())\"]".utf8)) }
    }
}
