extension Array {
    /// Removes and returns up to `maxCount` leading elements, for queues drained in batches.
    /// When everything leaves, the buffer goes with the batch instead of being copied out, and
    /// the array keeps room for as many again, so arrivals do not grow it step by step (each step
    /// a reallocation under the caller's lock).
    public mutating func removeBatch(max maxCount: Int) -> [Element] {
        guard count > maxCount else {
            let batch = self
            self = []
            reserveCapacity(batch.count)
            return batch
        }
        defer { removeFirst(maxCount) }
        return Array(prefix(maxCount))
    }
}
