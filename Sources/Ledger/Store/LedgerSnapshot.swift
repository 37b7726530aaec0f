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
}
