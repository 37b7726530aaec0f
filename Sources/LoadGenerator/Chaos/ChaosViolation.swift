/// One way the run broke a promise of the ledger, with what shows it.
public struct ChaosViolation: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Codable {
        case lostAcknowledgement, mismatchedReservation, lostEnding, invalidEnding, duplicateKey, oversold, overLimit, wrongRefusal
        case topicGap, topicReordered
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
