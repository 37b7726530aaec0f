import Foundation
import Ledger
import PropertyBased
import Synchronization
import TestSupport
import Testing

/// Random command sequences, partly concurrent, against the real ledger: after each sequence,
/// folding the events gives exactly the inline tables and every invariant holds.
@Suite(.timeLimit(.minutes(3))) struct LedgerPropertyTests {
    /// (kind, user, quantity, target, concurrent)
    typealias Step = (Int, Int, Int, Int, Bool)

    static let steps = zip(
        Gen.int(in: 0...6), Gen.int(in: 1...5), Gen.int(in: 1...3), Gen.int(in: 0...40), Gen.bool
    ).array(of: 1...40)

    @Test func randomCommandSequencesKeepTheLedgerConsistent() async throws {
        try await LedgerHarness.run { ledger in
            let nextProduct = Atomic<Int64>(0)
            await propertyCheck(count: 25, input: Self.steps, Gen.int(in: 0...8), Gen.int(in: 1...3)) { steps, stock, limit in
                let productId = nextProduct.add(1, ordering: .relaxed).newValue
                _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: productId, stock: Int64(stock), limitPerUser: Int64(limit))))
                let created = Mutex<[ReservationState]>([])
                // Runs of steps flagged concurrent go to the writer at the same time.
                var index = 0
                while index < steps.count {
                    var chunk = [steps[index]]
                    index += 1
                    while index < steps.count, steps[index].4, chunk.count < 6 {
                        chunk.append(steps[index])
                        index += 1
                    }
                    let known = created.withLock { $0 }
                    try await withThrowingTaskGroup(of: CommandResult.self) { group in
                        for step in chunk {
                            let command = Self.command(for: step, productId: productId, known: known)
                            group.addTask { try await ledger.submit(command) }
                        }
                        for try await result in group {
                            if case .reservation(let state, duplicate: false) = result, state.status == .reserved {
                                created.withLock { $0.append(state) }
                            }
                        }
                    }
                }
                let problems = try await ledger.ledgerIsConsistent()
                #expect(problems.isEmpty, "\(problems)")
                let product = try #require(try await ledger.reader.product(productId))
                #expect(product.reservedUnits <= product.totalStock)
            }
        }
    }

    static func command(for step: Step, productId: Int64, known: [ReservationState]) -> LedgerCommand {
        let (kind, user, quantity, target, _) = step
        let existing = known.isEmpty ? nil : known[target % known.count]
        switch kind {
        case 0, 1, 2:
            // Some reserves reuse one of a few keys, so retries and key collisions happen.
            let key = target % 3 == 0 ? "key-\(target % 4)" : nil
            return .reserve(.init(reservationId: ReservationID.v7(), productId: productId, userId: Int64(user), quantity: Int64(quantity), idempotencyKey: key))
        case 3 where existing != nil:
            // Sometimes the owner, sometimes somebody else.
            return .cancel(reservationId: existing!.reservationId, userId: target % 2 == 0 ? existing!.userId : Int64(user))
        case 4 where existing != nil:
            return .confirm(reservationId: existing!.reservationId, userId: nil, orderId: UUID.v7().lowercased, paymentRef: "pay-\(target)")
        case 5 where existing != nil:
            return .revert(reservationId: existing!.reservationId, reason: .gateRollback)
        default:
            return .addStock(productId: productId, quantity: Int64(quantity))
        }
    }
}
