/// The ledger at one moment: the fold of its events and, when asked for, its inline tables.
public struct LedgerSnapshot: Sendable {
    public var folded = LedgerState()
    public var tables: LedgerState?
    /// Per product, the position of its last event (what a caught-up projection has applied).
    public var lastPositions: [Int64: Int64] = [:]
    /// Position of the last event (0 for an empty ledger).
    public var head: Int64 = 0
    public var eventCount = 0

    public init() {}

    /// Room for a log of about `events` events (most of which are reservations in a sale).
    mutating func reserveCapacity(events: Int64) {
        folded.reservations.reserveCapacity(Int(events))
        folded.purchases.reserveCapacity(Int(events))
    }

    /// Folds one page of `LedgerReader.foldPageSQL` rows.
    mutating func apply(_ page: PostgresRows) throws {
        for row in page {
            let position = try row["position"].int64()
            let event = try EventCodec.decode(
                type: try row["type"].string(), schemaVersion: try row["schema_version"].int(), data: try row["data"].string())
            folded.apply(event, position: position)
            lastPositions[event.productId] = position
            head = position
            eventCount += 1
        }
    }
}
