/// One way the run broke a promise of the ledger, with what shows it.
public struct ChaosViolation: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case lostAcknowledgement, mismatchedReservation, lostEnding, invalidEnding, duplicateKey, oversold, overLimit, wrongRefusal
        case topicGap, topicReordered
        /// A 500: the server failed where it should have answered a refusal or a 503.
        case serverError
        /// No reservation succeeded within the bound after a fault ended.
        case noRecovery
        /// `ledger audit --kafka` (tables, Redis, topic) found a difference.
        case auditDifference
    }

    public var kind: Kind
    public var detail: String
    /// When it happened (epoch milliseconds): the operation's start or the event's record time.
    public var atMs: Int64?
    /// For an oversell, how many units beyond the stock.
    public var units: Int64?

    public init(_ kind: Kind, _ detail: String, atMs: Int64? = nil, units: Int64? = nil) {
        self.kind = kind
        self.detail = detail
        self.atMs = atMs
        self.units = units
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
