/// One way a copy of the ledger (inline tables, Redis, the Kafka topic) disagrees with the fold
/// of the events.
public struct AuditDifference: Sendable, Hashable, CustomStringConvertible {
    /// `tables`, `redis` or `kafka`.
    public var source: String
    public var subject: String
    /// What the events say.
    public var ledger: String
    /// What the copy says.
    public var other: String

    public init(source: String, subject: String, ledger: String, other: String) {
        self.source = source
        self.subject = subject
        self.ledger = ledger
        self.other = other
    }

    public var description: String { "\(source) \(subject): ledger \(ledger), \(source) \(other)" }
}
