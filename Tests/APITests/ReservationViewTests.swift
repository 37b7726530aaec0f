@testable import API
import Foundation
import Ledger
import Testing

/// The hand-written reservation body says exactly what JSONEncoder would.
@Suite struct ReservationViewTests {
    private func encoded(_ view: ReservationView) throws -> NSDictionary {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try JSONSerialization.jsonObject(with: try encoder.encode(view)) as! NSDictionary
    }

    @Test(arguments: [
        ReservationState(
            reservationId: ReservationID("01a21176-ac64-7072-8005-c267cfce348e")!, productId: 42, userId: 7, quantity: 2, unitPriceMinor: 1999,
            expiresAt: Timestamp(epochMs: 1_795_593_615_340), idempotencyKey: nil, status: .reserved, reservedPosition: 118_377),
        ReservationState(
            reservationId: ReservationID("01a21176-ac64-7072-8005-c267cfce348f")!, productId: 9_000_000_000, userId: 1, quantity: 1, unitPriceMinor: 0,
            expiresAt: Timestamp(epochMs: 0), idempotencyKey: "key \"quoted\" \\ /", status: .confirmed, reservedPosition: 1,
            endedPosition: 5, orderId: "01a21176-ac64-7072-8005-c267cfce3490", paymentRef: "pay\n\u{1}ü"),
    ])
    func theWrittenBodyIsWhatJSONEncoderWrites(state: ReservationState) throws {
        let view = ReservationView(state)
        let written = try JSONSerialization.jsonObject(with: Data(view.json)) as! NSDictionary
        #expect(written == (try encoded(view)))
        #expect(written["status"] as? String == state.status.rawValue)
    }
}
