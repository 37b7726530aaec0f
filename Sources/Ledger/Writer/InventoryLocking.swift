/// Whether a batch must hold its products' inventory rows locked while it decides.
///
/// Locking the row of a hot product serialises every batch from the lock to COMMIT. While
/// plenty of stock is left, a batch can decide from an unlocked read instead: no reservation of
/// it can be refused for stock, and the inventory row's CHECK still refuses an oversell if
/// concurrent batches took more than the headroom (the writer then decides the batch again,
/// locked). Listings and stock changes always lock: they rewrite the product stream's version.
enum InventoryLocking {
    static func mustLock(_ commands: [LedgerCommand], unlockedProducts products: [Int64: ProductState], headroomUnits: Int64) -> Bool {
        var demand = [Int64: Int64]()
        for command in commands {
            switch command {
            case .listProduct, .addStock:
                return true
            case .reserve(let reserve):
                demand[reserve.productId, default: 0] += reserve.quantity
            case .confirm, .cancel, .expire, .revert:
                break  // ending a reservation never takes stock
            }
        }
        return demand.contains { productId, units in
            // An unknown product is refused without touching any row.
            guard let product = products[productId] else { return false }
            return product.available - units < headroomUnits
        }
    }
}
