/// What a batch's decided events change in the tables, gathered in one pass: the rows phase 2
/// of `LedgerBatch` writes. Positions count from 1 of the batch.
struct BatchChanges {
    /// How many events the batch appends.
    let eventCount: Int
    var events = EventColumns()
    var listings = [ProductListed]()
    /// Products whose stream version moved, with the new version (a product listed in this
    /// batch has its row at version 1 already and is not here).
    var streamVersions = [Int64: Int64]()
    var inventoryDelta = [Int64: (total: Int64, reserved: Int64)]()
    var purchaseDelta = [PurchaseKey: (quantity: Int64, limit: Int64)]()
    /// Purchase rows that existed at the load (locked since) and those the batch inserts.
    var existingPurchases = [PurchaseKey]()
    var freshPurchases = [PurchaseKey]()
    var newReservations = ReservationColumns()
    var endings = EndingColumns()

    init(_ appended: [(position: Int64, event: LedgerEvent, metadata: EventMetadata)], before: LedgerState) {
        eventCount = appended.count
        var productVersions = before.products.mapValues(\.streamVersion)
        var limitByProduct = before.products.mapValues(\.listing.limitPerUser)
        for (position, event, metadata) in appended {
            let streamVersion: Int64
            switch event {
            case .productListed(let listed):
                listings.append(listed)
                limitByProduct[listed.productId] = listed.limitPerUser
                productVersions[listed.productId] = 1
                streamVersion = 1
            case .stockAdded(let added):
                inventoryDelta[added.productId, default: (0, 0)].total += added.quantity
                productVersions[added.productId, default: 0] += 1
                streamVersion = productVersions[added.productId]!
            case .stockReserved(let reserved):
                inventoryDelta[reserved.productId, default: (0, 0)].reserved += reserved.quantity
                purchaseDelta[PurchaseKey(productId: reserved.productId, userId: reserved.userId), default: (0, limitByProduct[reserved.productId]!)].quantity += reserved.quantity
                newReservations.append(reserved, position: position)
                streamVersion = 1
            case .reservationReverted(let reverted):
                inventoryDelta[reverted.productId, default: (0, 0)].reserved -= reverted.quantity
                purchaseDelta[PurchaseKey(productId: reverted.productId, userId: reverted.userId), default: (0, limitByProduct[reverted.productId]!)].quantity -= reverted.quantity
                endings.append(id: reverted.reservationId, status: ReservationStatus(reverted.reason), position: position, orderId: nil, paymentRef: nil)
                streamVersion = 2
            case .orderConfirmed(let confirmed):
                endings.append(id: confirmed.reservationId, status: .confirmed, position: position, orderId: confirmed.orderId, paymentRef: confirmed.paymentRef)
                streamVersion = 2
            }
            events.append(event, position: position, streamVersion: streamVersion, metadata: metadata)
        }
        streamVersions = productVersions.filter { id, version in version != (before.products[id]?.streamVersion ?? 1) }
        let purchaseKeys = purchaseDelta.keys.sorted()
        existingPurchases = purchaseKeys.filter { before.purchases[$0] != nil }
        freshPurchases = purchaseKeys.filter { before.purchases[$0] == nil }
    }
}
