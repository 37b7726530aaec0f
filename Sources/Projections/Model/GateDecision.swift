import Ledger

/// What the gate script answered for one reservation attempt.
public enum GateDecision: Sendable, Hashable {
    /// Units taken tentatively under the caller's reservation id.
    case reserved
    /// The idempotency key already belongs to this reservation; nothing was taken.
    case duplicate(ReservationID)
    case soldOut
    case limitExceeded
    case notStarted
    case ended
    /// The product is not in the read model (not listed, or not projected yet).
    case unknownProduct

    /// Whether the attempt goes on to the ledger: units taken, a key the ledger answers for, or a
    /// product only the ledger knows yet.
    public var letsTheLedgerDecide: Bool {
        switch self {
        case .reserved, .duplicate, .unknownProduct: return true
        case .soldOut, .limitExceeded, .notStarted, .ended: return false
        }
    }

    public init(reply: RedisReply) throws {
        guard let fields = reply.array, let tag = fields.first?.string else {
            throw RedisError(code: .unexpectedReply, message: "gate answered \(reply)")
        }
        switch tag {
        case "reserved": self = .reserved
        case "duplicate":
            guard fields.count == 2, let id = fields[1].string.flatMap(ReservationID.init) else {
                throw RedisError(code: .unexpectedReply, message: "gate answered duplicate without a reservation id")
            }
            self = .duplicate(id)
        case "soldOut": self = .soldOut
        case "limitExceeded": self = .limitExceeded
        case "notStarted": self = .notStarted
        case "ended": self = .ended
        case "unknownProduct": self = .unknownProduct
        default: throw RedisError(code: .unexpectedReply, message: "gate answered \(tag)")
        }
    }
}
