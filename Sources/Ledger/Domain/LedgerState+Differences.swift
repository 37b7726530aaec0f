extension LedgerState {
    /// Every way `other` differs from this state (used by audits: the fold of the events is
    /// `self`, the inline tables are `other`).
    public func differences(from other: LedgerState, otherName: String = "tables") -> [AuditDifference] {
        var lines = [AuditDifference]()
        func compare<Key: Hashable & Comparable, Value: Equatable>(
            _ what: String, _ mine: [Key: Value], _ theirs: [Key: Value]
        ) {
            for key in Set(mine.keys).union(theirs.keys).sorted() where mine[key] != theirs[key] {
                let left = mine[key].map { "\($0)" } ?? "missing"
                let right = theirs[key].map { "\($0)" } ?? "missing"
                lines.append(AuditDifference(source: otherName, subject: "\(what) \(key)", ledger: left, other: right))
            }
        }
        compare("product", products, other.products)
        compare("purchases", purchases, other.purchases)
        compare("reservation", reservations, other.reservations)
        compare("idempotency key", idempotencyKeys, other.idempotencyKeys)
        return lines
    }
}

extension PurchaseKey: Comparable, CustomStringConvertible {
    public static func < (lhs: PurchaseKey, rhs: PurchaseKey) -> Bool {
        (lhs.productId, lhs.userId) < (rhs.productId, rhs.userId)
    }
    public var description: String { "product \(productId) user \(userId)" }
}

extension IdempotencyKey: Comparable, CustomStringConvertible {
    public static func < (lhs: IdempotencyKey, rhs: IdempotencyKey) -> Bool {
        (lhs.userId, lhs.key) < (rhs.userId, rhs.key)
    }
    public var description: String { "user \(userId) key \(key)" }
}
