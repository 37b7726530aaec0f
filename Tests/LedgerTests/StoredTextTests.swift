import Foundation
import Ledger
import TestSupport
import Testing

/// What the ledger will store: the rules that keep a value PostgreSQL refuses out of a batch.
@Suite struct StoredTextTests {
    func listing(named name: String) -> ProductListed {
        var listing = LedgerHarness.listing(productId: 1, stock: 1)
        listing.name = name
        return listing
    }

    @Test func controlCharactersAndOverlongTextAreRefusedEverythingElseIsKept() {
        #expect(StoredText.isStorable("Phone X – 256 GB 📱", maxBytes: 64))
        #expect(StoredText.isStorable("ü", maxBytes: 2) && !StoredText.isStorable("ü", maxBytes: 1), "bytes, not characters")
        #expect(!StoredText.isStorable("", maxBytes: 10))
        for control in ["\u{0}", "\u{1}", "\t", "\n", "\u{1F}", "\u{7F}", "\u{80}", "\u{9F}"] {
            #expect(!StoredText.isStorable("pay\(control)ref", maxBytes: 64), "\(control.unicodeScalars.first!.value)")
        }
        // One "character" of many combining marks is still counted by its bytes.
        let heavy = "a" + String(repeating: "\u{301}", count: 300)
        #expect(heavy.count == 1 && !StoredText.isStorable(heavy, maxBytes: 400))
        #expect(StoredText.isToken("order-1_2.3~x", maxBytes: 64))
        #expect(!StoredText.isToken("has space", maxBytes: 64) && !StoredText.isToken("é", maxBytes: 64) && !StoredText.isToken("", maxBytes: 64))
        #expect(!StoredText.isToken(String(repeating: "k", count: 65), maxBytes: 64))
    }

    @Test func commandsAndMetadataAreCheckedWithTheseRules() {
        let limits = Limits()
        #expect(LedgerCommand.listProduct(listing(named: "Phone\u{0}")).validate(limits)?.code == .invalid)
        #expect(LedgerCommand.listProduct(listing(named: "Phone")).validate(limits) == nil)
        let confirm = LedgerCommand.confirm(
            reservationId: ReservationID.v7(), userId: 1, orderId: UUID.v7().lowercased, paymentRef: String(repeating: "p", count: limits.maxPaymentRefBytes + 1))
        #expect(confirm.validate(limits)?.code == .invalid)
        #expect(EventMetadata(requestId: "req-1", actor: "user:1").validate(limits) == nil)
        #expect(EventMetadata(requestId: "req\u{0}", actor: "user:1").validate(limits)?.code == .invalid)
        #expect(EventMetadata(requestId: String(repeating: "r", count: 129), actor: "user:1").validate(limits)?.code == .invalid)
        #expect(EventMetadata(requestId: nil, actor: "user 1").validate(limits)?.code == .invalid)
    }
}
