import Foundation

/// A request to change the ledger. Commands are decided against the current state inside the
/// writer's transaction; the decision either appends events or rejects with a reason.
public enum LedgerCommand: Sendable, Hashable {
    /// Creates a sale. The same listing again is accepted without a new event; a different one
    /// for an existing product is a conflict.
    case listProduct(ProductListed)
    case addStock(productId: Int64, quantity: Int64)
    case reserve(Reserve)
    /// `userId` nil: an operator or system acting for the owner.
    case confirm(reservationId: ReservationID, userId: Int64?, orderId: String, paymentRef: String)
    case cancel(reservationId: ReservationID, userId: Int64?)
    /// Ends a reservation whose `expiresAt` has passed (the expiry worker's command).
    case expire(reservationId: ReservationID)
    /// System reverts: a payment that failed, or a gate entry the ledger must give back.
    case revert(reservationId: ReservationID, reason: RevertReason)

    public struct Reserve: Sendable, Hashable {
        /// Chosen by the caller (the gate records it first), time-ordered UUID v7.
        public var reservationId: ReservationID
        public var productId: Int64
        public var userId: Int64
        public var quantity: Int64
        public var idempotencyKey: String?

        public init(reservationId: ReservationID, productId: Int64, userId: Int64, quantity: Int64, idempotencyKey: String?) {
            self.reservationId = reservationId
            self.productId = productId
            self.userId = userId
            self.quantity = quantity
            self.idempotencyKey = idempotencyKey
        }
    }

    /// Checks what can be checked without the ledger: ids, ranges, lengths.
    public func validate(_ limits: Limits) -> LedgerRejection? {
        func invalid(_ detail: String) -> LedgerRejection { LedgerRejection(.invalid, detail) }
        switch self {
        case .listProduct(let listing):
            if listing.productId <= 0 { return invalid("productId must be > 0") }
            if !StoredText.isStorable(listing.name, maxBytes: limits.maxProductNameBytes) {
                return invalid("name must be 1…\(limits.maxProductNameBytes) bytes of UTF-8 without control characters")
            }
            if listing.priceMinor < 0 { return invalid("priceMinor must be ≥ 0") }
            if listing.currency.count != 3 || !listing.currency.allSatisfy({ $0.isASCII && $0.isUppercase }) {
                return invalid("currency must be three upper-case letters (ISO 4217)")
            }
            if listing.stock < 0 || listing.stock > limits.maxStockPerEvent {
                return invalid("stock must be 0…\(limits.maxStockPerEvent)")
            }
            if listing.endsAt <= listing.startsAt { return invalid("endsAt must be after startsAt") }
            if listing.limitPerUser < 1 || listing.limitPerUser > limits.maxQuantityPerReservation {
                return invalid("limitPerUser must be 1…\(limits.maxQuantityPerReservation)")
            }
            if listing.reservationTTLSeconds < 1 || listing.reservationTTLSeconds > limits.maxReservationTTLSeconds {
                return invalid("reservationTTLSeconds must be 1…\(limits.maxReservationTTLSeconds)")
            }
        case .addStock(let productId, let quantity):
            if productId <= 0 { return invalid("productId must be > 0") }
            if quantity < 1 || quantity > limits.maxStockPerEvent { return invalid("quantity must be 1…\(limits.maxStockPerEvent)") }
        case .reserve(let reserve):
            if reserve.productId <= 0 { return invalid("productId must be > 0") }
            if reserve.userId <= 0 { return invalid("userId must be > 0") }
            if reserve.quantity < 1 || reserve.quantity > limits.maxQuantityPerReservation {
                return invalid("quantity must be 1…\(limits.maxQuantityPerReservation)")
            }
            if let key = reserve.idempotencyKey, !Self.isValidIdempotencyKey(key, limits) {
                return invalid("idempotency key must be 1…\(limits.maxIdempotencyKeyBytes) printable ASCII characters")
            }
        case .confirm(_, let userId, _, let paymentRef):
            if let userId, userId <= 0 { return invalid("userId must be > 0") }
            if !StoredText.isStorable(paymentRef, maxBytes: limits.maxPaymentRefBytes) {
                return invalid("paymentRef must be 1…\(limits.maxPaymentRefBytes) bytes of UTF-8 without control characters")
            }
        case .cancel(_, let userId):
            if let userId, userId <= 0 { return invalid("userId must be > 0") }
        case .expire, .revert:
            break
        }
        if case .confirm(_, _, let orderId, _) = self, !UUID.isCanonical(orderId) {
            return invalid("order id must be a lower-case UUID")
        }
        return nil
    }

    public static func isValidIdempotencyKey(_ key: String, _ limits: Limits) -> Bool {
        StoredText.isToken(key, maxBytes: limits.maxIdempotencyKeyBytes)
    }

    /// The reservation a command acts on, if any.
    public var reservationId: ReservationID? {
        switch self {
        case .listProduct, .addStock: return nil
        case .reserve(let reserve): return reserve.reservationId
        case .confirm(let id, _, _, _), .cancel(let id, _), .expire(let id), .revert(let id, _): return id
        }
    }
}
