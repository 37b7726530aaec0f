/// The topic against the ledger, per product: every ledger position of the product is in the
/// topic, and in ledger order. The relay publishes at least once, so a position may come again
/// (after a crash or a take-over); a repeat is fine, a position that comes after a later one
/// without having come before is a reordering.
public enum ChaosTopicCheck {
    /// `ledger` and `topic`: product id → positions, in ledger order and in the topic's order
    /// (its partition's offsets) respectively. `retainedFrom`: product id → the position of the
    /// first message retention left in its partition (when it trimmed it); earlier positions of
    /// that product may be gone.
    public static func check(ledger: [Int64: [Int64]], topic: [Int64: [Int64]], retainedFrom: [Int64: Int64] = [:]) -> [ChaosViolation] {
        var violations = [ChaosViolation]()
        for productId in Set(ledger.keys).union(topic.keys).sorted() {
            var seen = Set<Int64>()
            var highest = Int64.min
            for position in topic[productId] ?? [] {
                guard seen.insert(position).inserted else { continue }
                if position < highest {
                    violations.append(.init(.topicReordered, "product \(productId): position \(position) came after \(highest)"))
                }
                highest = max(highest, position)
            }
            let cutoff = retainedFrom[productId] ?? .min
            let missing = (ledger[productId] ?? []).filter { $0 >= cutoff && !seen.contains($0) }
            if !missing.isEmpty {
                violations.append(.init(.topicGap, "product \(productId): \(missing.count) ledger positions missing from the topic, first \(missing[0])"))
            }
        }
        return violations
    }
}
