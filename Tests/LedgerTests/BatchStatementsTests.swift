import Foundation
@testable import Ledger
import TestSupport
import Testing

/// Phase 2's statements, without a server: each binds exactly the parameters its SQL numbers,
/// and the changes it writes are what the batch's events say.
@Suite struct BatchStatementsTests {
    /// A batch that lists product 1, adds stock, reserves twice for one user and once for
    /// another, confirms one reservation and reverts another.
    private func changes() -> BatchChanges {
        let listed = LedgerHarness.listing(productId: 1, stock: 10, limitPerUser: 3)
        let first = ReservationID.v7(), second = ReservationID.v7(), third = ReservationID.v7()
        let expires = Timestamp.now().adding(seconds: 600)
        let events: [LedgerEvent] = [
            .productListed(listed),
            .stockAdded(StockAdded(productId: 1, quantity: 5)),
            .stockReserved(StockReserved(reservationId: first, productId: 1, userId: 7, quantity: 1, unitPriceMinor: 100, expiresAt: expires, idempotencyKey: "k")),
            .stockReserved(StockReserved(reservationId: second, productId: 1, userId: 7, quantity: 2, unitPriceMinor: 100, expiresAt: expires, idempotencyKey: nil)),
            .stockReserved(StockReserved(reservationId: third, productId: 1, userId: 8, quantity: 1, unitPriceMinor: 100, expiresAt: expires, idempotencyKey: nil)),
            .orderConfirmed(OrderConfirmed(reservationId: first, productId: 1, userId: 7, orderId: UUID.v7().lowercased, paymentRef: "pay")),
            .reservationReverted(ReservationReverted(reservationId: third, productId: 1, userId: 8, quantity: 1, reason: .cancelled)),
        ]
        let appended = events.enumerated().map { (position: Int64($0.offset + 1), event: $0.element, metadata: EventMetadata(actor: "test")) }
        return BatchChanges(appended, before: LedgerState())
    }

    /// The highest `$n` a statement's SQL refers to.
    private func highestParameter(_ sql: String) -> Int {
        sql.matches(of: /\$(\d+)/).compactMap { Int($0.output.1) }.max() ?? 0
    }

    @Test func everyStatementBindsExactlyTheParametersItsSQLNumbers() throws {
        let changes = changes()
        var statements = changes.listings.flatMap(BatchStatements.list)
        statements += [
            try #require(BatchStatements.setStreamVersions(changes)), try #require(BatchStatements.applyInventoryDeltas(changes)),
            BatchStatements.append(changes), try #require(BatchStatements.endReservations(changes)),
        ]
        for statement in statements {
            #expect(statement.parameters.count == highestParameter(statement.sql), "\(statement.sql)")
        }
        #expect(BatchStatements.append(changes).parameters.count == 1 + EventColumns.columns.count + ReservationColumns.columns.count + PurchaseColumns.columns.count)
    }

    @Test func theChangesAreWhatTheEventsSay() {
        let changes = changes()
        #expect(changes.eventCount == 7)
        #expect(changes.listings.map(\.productId) == [1])
        #expect(changes.streamVersions == [1: 2], "inserted at version 1 by this batch, then moved by its stock event")
        #expect(changes.inventoryDelta[1]?.total == 5)
        #expect(changes.inventoryDelta[1]?.reserved == 3, "four units reserved, one reverted")
        #expect(changes.freshPurchases.map(\.userId) == [7, 8])
        #expect(changes.purchaseDelta[PurchaseKey(productId: 1, userId: 7)]?.quantity == 3)
        #expect(changes.purchaseDelta[PurchaseKey(productId: 1, userId: 8)]?.quantity == 0)
        #expect(changes.purchaseDelta[PurchaseKey(productId: 1, userId: 7)]?.limit == 3, "the limit of the listing in the same batch")
        #expect(changes.newReservations.ids.count == 3)
        #expect(changes.endings.statuses == ["confirmed", "cancelled"])
        #expect(changes.events.versions == [1, 2, 1, 1, 1, 2, 2])
    }
}
