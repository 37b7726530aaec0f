/// What the checker found.
public struct ChaosVerdict: Sendable, Hashable, Codable {
    public var violations: [ChaosViolation] = []
    public var acknowledged = 0
    public var acknowledgedInLedger = 0
    /// Reservations whose outcome the client never learned, by what the ledger says of their key.
    public var unknownCommitted = 0
    public var unknownNotCommitted = 0
    /// The most units of one product reserved beyond its stock at any position (must be 0).
    public var oversoldUnits: Int64 = 0

    public var isClean: Bool { violations.isEmpty }

    public init() {}
}
