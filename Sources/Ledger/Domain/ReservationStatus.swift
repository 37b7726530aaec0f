/// Where a reservation is in its life: `reserved`, then exactly one ending.
public enum ReservationStatus: String, Codable, Sendable, CaseIterable {
    case reserved
    case confirmed
    case cancelled
    case expired
    case paymentFailed
    case gateRollback

    public init(_ reason: RevertReason) {
        switch reason {
        case .cancelled: self = .cancelled
        case .expired: self = .expired
        case .paymentFailed: self = .paymentFailed
        case .gateRollback: self = .gateRollback
        }
    }

    public var isEnded: Bool { self != .reserved }
}
