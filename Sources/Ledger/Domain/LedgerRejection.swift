/// Why the ledger refused a command. Not an operating error: the ledger worked and said no.
public struct LedgerRejection: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        case soldOut
        case limitExceeded
        case notStarted
        case ended
        case unknownProduct
        case unknownReservation
        /// The reservation was already confirmed or reverted.
        case alreadyEnded
        /// A different listing exists for this product id.
        case productConflict
        /// The idempotency key already names a reservation of another product or quantity.
        case idempotencyKeyReused
        case invalid
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
