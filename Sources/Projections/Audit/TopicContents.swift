/// What a read of the whole ledger topic found: per product the `position` headers in the
/// order the topic holds them, and per partition what retention left.
struct TopicContents: Sendable, Equatable {
    struct Partition: Sendable, Equatable {
        /// The earliest offset the partition still holds; above 0 when retention trimmed it.
        var lowOffset: Int64
        /// The position the first retained message carries; nil when nothing is retained.
        var firstPosition: Int64?

        var isTrimmed: Bool { lowOffset > 0 }
    }

    var positionsByProduct: [Int64: [Int64]] = [:]
    /// The partition each product's messages were found in (keyed messages stay in one).
    var partitionByProduct: [Int64: Int32] = [:]
    var partitions: [Int32: Partition] = [:]
}
