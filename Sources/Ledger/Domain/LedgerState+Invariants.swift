extension LedgerState {
    /// The design's invariants checked on this state (folded or read from the tables); one
    /// readable line per violation.
    public func invariantViolations() -> [String] {
        let state = self
        var problems = [String]()
        var activeByProduct = [Int64: Int64]()
        var activeByPurchase = [PurchaseKey: Int64]()
        for reservation in state.reservations.values where reservation.status == .reserved || reservation.status == .confirmed {
            activeByProduct[reservation.productId, default: 0] += reservation.quantity
            activeByPurchase[PurchaseKey(productId: reservation.productId, userId: reservation.userId), default: 0] += reservation.quantity
        }
        for product in state.products.values {
            if product.reservedUnits > product.totalStock { problems.append("product \(product.productId) oversold") }
            if product.reservedUnits != activeByProduct[product.productId, default: 0] {
                problems.append("product \(product.productId) reserved units disagree with its reservations")
            }
        }
        for (key, quantity) in state.purchases {
            if quantity != activeByPurchase[key, default: 0] { problems.append("purchases \(key) disagree with reservations") }
            if let limit = state.products[key.productId]?.listing.limitPerUser, quantity > limit {
                problems.append("user \(key.userId) above the limit of product \(key.productId)")
            }
        }
        for (key, reservationId) in state.idempotencyKeys where state.reservations[reservationId]?.idempotencyKey != key.key {
            problems.append("idempotency key \(key.key) points at the wrong reservation")
        }
        return problems
    }
}
