/// A reservation and, once it ended, how.
public struct ReservationState: Sendable, Hashable {
    public var reservationId: ReservationID
    public var productId: Int64
    public var userId: Int64
    public var quantity: Int64
    public var unitPriceMinor: Int64
    public var expiresAt: Timestamp
    public var idempotencyKey: String?
    public var status: ReservationStatus
    /// Position of its StockReserved event.
    public var reservedPosition: Int64
    /// Position of the event that ended it.
    public var endedPosition: Int64?
    public var orderId: String?
    public var paymentRef: String?

    public init(
        reservationId: ReservationID, productId: Int64, userId: Int64, quantity: Int64, unitPriceMinor: Int64,
        expiresAt: Timestamp, idempotencyKey: String?, status: ReservationStatus, reservedPosition: Int64,
        endedPosition: Int64? = nil, orderId: String? = nil, paymentRef: String? = nil
    ) {
        self.reservationId = reservationId
        self.productId = productId
        self.userId = userId
        self.quantity = quantity
        self.unitPriceMinor = unitPriceMinor
        self.expiresAt = expiresAt
        self.idempotencyKey = idempotencyKey
        self.status = status
        self.reservedPosition = reservedPosition
        self.endedPosition = endedPosition
        self.orderId = orderId
        self.paymentRef = paymentRef
    }

    public var streamVersion: Int64 { status == .reserved ? 1 : 2 }
}

public struct PurchaseKey: Sendable, Hashable {
    public var productId: Int64
    public var userId: Int64
    public init(productId: Int64, userId: Int64) {
        self.productId = productId
        self.userId = userId
    }
}

public struct IdempotencyKey: Sendable, Hashable {
    public var userId: Int64
    public var key: String
    public init(userId: Int64, key: String) {
        self.userId = userId
        self.key = key
    }
}
