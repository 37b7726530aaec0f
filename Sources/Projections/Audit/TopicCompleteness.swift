import Ledger

/// Compares the ledger with a read of its topic, knowing that retention trims a partition from
/// the front. A partition carries its products' events in ledger order, so everything before
/// its first retained message's position may be gone: such positions are counted as trimmed,
/// not reported. Every later one must be there, in order, as the projector would take it.
struct TopicCompleteness {
    struct Result: Equatable {
        var differences: [AuditDifference] = []
        /// Ledger positions before the first retained message of their partition.
        var trimmedPositions = 0
    }

    /// `ledger`: per product the positions the ledger holds up to `head`; `fromPosition`:
    /// positions below it are not compared (nor counted).
    static func compare(ledger: [Int64: [Int64]], topic: TopicContents, head: Int64, fromPosition: Int64 = 0) -> Result {
        var result = Result()
        for productId in Set(ledger.keys).union(topic.positionsByProduct.keys).sorted() {
            let retentionCutoff = topic.retentionCutoff(of: productId)
            let cutoff = max(fromPosition, retentionCutoff)
            let all = ledger[productId] ?? []
            result.trimmedPositions += all.count { $0 >= fromPosition && $0 < retentionCutoff }
            let expected = all.filter { $0 >= cutoff }
            let published = (topic.positionsByProduct[productId] ?? []).filter { $0 >= cutoff && $0 <= head }
            result.differences += differences(productId: productId, expected: expected, published: published)
        }
        return result
    }

    /// What a consumer that skips positions at or below the highest it applied (the projector)
    /// takes from `published`: redeliveries (the relay is at-least-once) are harmless; a gap, or
    /// an event behind a later one of its product, is lost to it.
    private static func differences(productId: Int64, expected: [Int64], published: [Int64]) -> [AuditDifference] {
        var applied = Set<Int64>()
        var highest = Int64.min
        for position in published where position > highest {
            applied.insert(position)
            highest = position
        }
        let present = Set(published)
        var differences = [AuditDifference]()
        for position in expected where !applied.contains(position) {
            differences.append(AuditDifference(
                source: "kafka", subject: "product \(productId) position \(position)", ledger: "event",
                other: present.contains(position) ? "only after a later position" : "missing"))
        }
        for position in present.subtracting(expected).sorted() {
            differences.append(AuditDifference(source: "kafka", subject: "product \(productId) position \(position)", ledger: "no such event", other: "published"))
        }
        return differences
    }
}
