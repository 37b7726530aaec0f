import Foundation
import Testing

@testable import Ledger

@Suite struct InventoryLockingTests {
    private static func product(_ id: Int64, total: Int64, reserved: Int64) -> ProductState {
        ProductState(
            listing: ProductListed(
                productId: id, name: "p", priceMinor: 1, currency: "EUR", stock: total, startsAt: Timestamp(epochMs: 0),
                endsAt: Timestamp(epochMs: 1), limitPerUser: 10, reservationTTLSeconds: 60),
            streamVersion: 1, totalStock: total, reservedUnits: reserved)
    }

    private static func reserve(_ productId: Int64, quantity: Int64 = 1) -> LedgerCommand {
        .reserve(.init(reservationId: ReservationID.v7(), productId: productId, userId: 1, quantity: quantity, idempotencyKey: nil))
    }

    @Test func plentyOfStockDecidesUnlockedAndTheEndOfASaleLocks() {
        let products: [Int64: ProductState] = [1: Self.product(1, total: 1_000, reserved: 0)]
        let batch = Array(repeating: Self.reserve(1, quantity: 2), count: 100)  // 200 units
        #expect(!InventoryLocking.mustLock(batch, unlockedProducts: products, headroomUnits: 800))
        #expect(InventoryLocking.mustLock(batch, unlockedProducts: products, headroomUnits: 801))
        // Reserved units count against what is left.
        #expect(InventoryLocking.mustLock(batch, unlockedProducts: [1: Self.product(1, total: 1_000, reserved: 1)], headroomUnits: 800))
    }

    @Test func demandIsSummedPerProductAndAnyShortProductLocks() {
        let products: [Int64: ProductState] = [1: Self.product(1, total: 100, reserved: 0), 2: Self.product(2, total: 1_000_000, reserved: 0)]
        #expect(!InventoryLocking.mustLock([Self.reserve(2, quantity: 50), Self.reserve(2, quantity: 50)], unlockedProducts: products, headroomUnits: 10))
        #expect(InventoryLocking.mustLock([Self.reserve(2), Self.reserve(1, quantity: 50), Self.reserve(1, quantity: 41)], unlockedProducts: products, headroomUnits: 10))
    }

    @Test func stockCommandsAlwaysLockAndEndingsOrUnknownProductsNever() {
        let products: [Int64: ProductState] = [1: Self.product(1, total: 1_000_000, reserved: 0)]
        #expect(InventoryLocking.mustLock([.addStock(productId: 1, quantity: 5)], unlockedProducts: products, headroomUnits: 0))
        #expect(InventoryLocking.mustLock([.listProduct(products[1]!.listing)], unlockedProducts: [:], headroomUnits: 0))
        #expect(!InventoryLocking.mustLock([.cancel(reservationId: ReservationID.v7(), userId: 1)], unlockedProducts: [:], headroomUnits: 1_000_000))
        #expect(!InventoryLocking.mustLock([Self.reserve(99)], unlockedProducts: products, headroomUnits: 1_000_000))
    }
}
