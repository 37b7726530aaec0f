import Ledger
import Testing

/// The decision rules without a database.
@Suite struct LedgerStateTests {
    let now = Timestamp(epochMs: 1_764_000_000_000)
    var listing: ProductListed {
        ProductListed(
            productId: 1, name: "P", priceMinor: 500, currency: "EUR", stock: 3, startsAt: now.adding(seconds: -10),
            endsAt: now.adding(seconds: 10), limitPerUser: 2, reservationTTLSeconds: 60)
    }

    func reserve(_ state: inout LedgerState, user: Int64, quantity: Int64 = 1, key: String? = nil, id: ReservationID) -> CommandResult {
        var position: Int64 = 100
        return state.execute(
            .reserve(.init(reservationId: id, productId: 1, userId: user, quantity: quantity, idempotencyKey: key)),
            at: now, nextPosition: &position, limits: Limits()
        ).result
    }

    static let ids = (1...9).map { ReservationID("0190f3f0-0000-7000-8000-00000000000\($0)")! }

    @Test func stockLimitAndKeysAreDecidedInOrderWithinOneBatch() {
        var state = LedgerState()
        var position: Int64 = 1
        _ = state.execute(.listProduct(listing), at: now, nextPosition: &position, limits: Limits())
        #expect(reserve(&state, user: 1, quantity: 2, id: Self.ids[0]).reservation?.expiresAt == now.adding(seconds: 60))
        #expect(reserve(&state, user: 1, id: Self.ids[1]).rejection?.code == .limitExceeded)
        #expect(reserve(&state, user: 2, key: "a", id: Self.ids[2]).reservation != nil)
        #expect(reserve(&state, user: 2, key: "a", id: Self.ids[3]) == .reservation(state.reservations[Self.ids[2]]!, duplicate: true))
        #expect(reserve(&state, user: 3, id: Self.ids[4]).rejection?.code == .soldOut)
        #expect(state.products[1]?.available == 0)
    }

    @Test func endingTwiceIsRefusedAndGivesBackOnce() {
        var state = LedgerState()
        var position: Int64 = 1
        _ = state.execute(.listProduct(listing), at: now, nextPosition: &position, limits: Limits())
        _ = reserve(&state, user: 1, quantity: 2, id: Self.ids[0])
        let cancel = state.execute(.cancel(reservationId: Self.ids[0], userId: 1), at: now, nextPosition: &position, limits: Limits())
        #expect(cancel.events.count == 1)
        let again = state.execute(.revert(reservationId: Self.ids[0], reason: .gateRollback), at: now, nextPosition: &position, limits: Limits())
        #expect(again.result.rejection?.code == .alreadyEnded)
        #expect(again.events.isEmpty)
        #expect(state.products[1]?.available == 3)
        #expect(state.purchases[PurchaseKey(productId: 1, userId: 1)] == 0)
    }

    @Test func inputValidationNeedsNoState() {
        let limits = Limits()
        #expect(LedgerCommand.confirm(reservationId: Self.ids[0], userId: 1, orderId: "NOT-A-UUID", paymentRef: "p").validate(limits)?.code == .invalid)
        #expect(LedgerCommand.reserve(.init(reservationId: Self.ids[0], productId: 0, userId: 1, quantity: 1, idempotencyKey: nil)).validate(limits)?.code == .invalid)
        #expect(LedgerCommand.reserve(.init(reservationId: Self.ids[0], productId: 1, userId: 1, quantity: 1, idempotencyKey: String(repeating: "k", count: 65))).validate(limits)?.code == .invalid)
        var bad = listing
        bad.currency = "eur"
        #expect(LedgerCommand.listProduct(bad).validate(limits)?.code == .invalid)
        bad = listing
        bad.endsAt = bad.startsAt
        #expect(LedgerCommand.listProduct(bad).validate(limits)?.code == .invalid)
        #expect(LedgerCommand.listProduct(listing).validate(limits) == nil)
    }
}
