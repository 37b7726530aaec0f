/// What a read of the whole ledger topic found: per product the `position` headers in the
/// order the topic holds them, and per partition what retention left.
public struct TopicContents: Sendable, Equatable {
    public struct Partition: Sendable, Equatable {
        /// The earliest offset the partition still holds; above 0 when retention trimmed it.
        public var lowOffset: Int64
        /// The position the first retained message carries; nil when nothing is retained.
        public var firstPosition: Int64?

        public var isTrimmed: Bool { lowOffset > 0 }
    }

    public var positionsByProduct: [Int64: [Int64]] = [:]
    /// The partition each product's messages were found in (keyed messages stay in one).
    public var partitionByProduct: [Int64: Int32] = [:]
    public var partitions: [Int32: Partition] = [:]

    /// The position below which retention may have trimmed a product's events: the first
    /// retained position of its partition when that was trimmed, else 0. A product none of whose
    /// messages is left may have lived in any trimmed partition: the highest such cutoff.
    public func retentionCutoff(of productId: Int64) -> Int64 {
        func cutoff(_ partition: Partition) -> Int64 { partition.isTrimmed ? (partition.firstPosition ?? .max) : 0 }
        guard let partition = partitionByProduct[productId] else { return partitions.values.map(cutoff).max() ?? 0 }
        return partitions[partition].map(cutoff) ?? 0
    }
}
