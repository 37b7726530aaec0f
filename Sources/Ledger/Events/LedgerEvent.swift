/// Why a reservation ended without an order.
public enum RevertReason: String, Codable, Sendable, CaseIterable {
    case cancelled
    case expired
    case paymentFailed
    case gateRollback
}

/// `product-{id}`: a sale is configured with its initial stock.
public struct ProductListed: Codable, Sendable, Hashable {
    public var productId: Int64
    public var name: String
    public var priceMinor: Int64
    public var currency: String
    public var stock: Int64
    public var startsAt: Timestamp
    public var endsAt: Timestamp
    public var limitPerUser: Int64
    public var reservationTTLSeconds: Int64

    public init(
        productId: Int64, name: String, priceMinor: Int64, currency: String, stock: Int64,
        startsAt: Timestamp, endsAt: Timestamp, limitPerUser: Int64, reservationTTLSeconds: Int64
    ) {
        self.productId = productId
        self.name = name
        self.priceMinor = priceMinor
        self.currency = currency
        self.stock = stock
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.limitPerUser = limitPerUser
        self.reservationTTLSeconds = reservationTTLSeconds
    }
}

/// `product-{id}`: more units for sale.
public struct StockAdded: Codable, Sendable, Hashable {
    public var productId: Int64
    public var quantity: Int64

    public init(productId: Int64, quantity: Int64) {
        self.productId = productId
        self.quantity = quantity
    }
}

/// `reservation-{id}`: units held for a user until `expiresAt`.
public struct StockReserved: Codable, Sendable, Hashable {
    public var reservationId: ReservationID
    public var productId: Int64
    public var userId: Int64
    public var quantity: Int64
    public var unitPriceMinor: Int64
    public var expiresAt: Timestamp
    public var idempotencyKey: String?

    public init(reservationId: ReservationID, productId: Int64, userId: Int64, quantity: Int64, unitPriceMinor: Int64, expiresAt: Timestamp, idempotencyKey: String?) {
        self.reservationId = reservationId
        self.productId = productId
        self.userId = userId
        self.quantity = quantity
        self.unitPriceMinor = unitPriceMinor
        self.expiresAt = expiresAt
        self.idempotencyKey = idempotencyKey
    }
}

/// `reservation-{id}`: the units go back on sale and the user's quota is returned.
public struct ReservationReverted: Codable, Sendable, Hashable {
    public var reservationId: ReservationID
    public var productId: Int64
    public var userId: Int64
    public var quantity: Int64
    public var reason: RevertReason

    public init(reservationId: ReservationID, productId: Int64, userId: Int64, quantity: Int64, reason: RevertReason) {
        self.reservationId = reservationId
        self.productId = productId
        self.userId = userId
        self.quantity = quantity
        self.reason = reason
    }
}

/// `reservation-{id}`: paid; the units are sold for good.
public struct OrderConfirmed: Codable, Sendable, Hashable {
    public var reservationId: ReservationID
    public var productId: Int64
    public var userId: Int64
    /// The buyer's order, a lower-case UUID (checked by `LedgerCommand.validate`).
    public var orderId: String
    public var paymentRef: String

    public init(reservationId: ReservationID, productId: Int64, userId: Int64, orderId: String, paymentRef: String) {
        self.reservationId = reservationId
        self.productId = productId
        self.userId = userId
        self.orderId = orderId
        self.paymentRef = paymentRef
    }
}

/// Every fact the ledger records.
public enum LedgerEvent: Sendable, Hashable {
    case productListed(ProductListed)
    case stockAdded(StockAdded)
    case stockReserved(StockReserved)
    case reservationReverted(ReservationReverted)
    case orderConfirmed(OrderConfirmed)

    public var type: String {
        switch self {
        case .productListed: return "ProductListed"
        case .stockAdded: return "StockAdded"
        case .stockReserved: return "StockReserved"
        case .reservationReverted: return "ReservationReverted"
        case .orderConfirmed: return "OrderConfirmed"
        }
    }

    /// The version of `data` this code writes. Older versions are upcast when read.
    public var schemaVersion: Int {
        EventCodec.currentSchemaVersion[type]!
    }

    public var productId: Int64 {
        switch self {
        case .productListed(let event): return event.productId
        case .stockAdded(let event): return event.productId
        case .stockReserved(let event): return event.productId
        case .reservationReverted(let event): return event.productId
        case .orderConfirmed(let event): return event.productId
        }
    }

    public var userId: Int64? {
        switch self {
        case .productListed, .stockAdded: return nil
        case .stockReserved(let event): return event.userId
        case .reservationReverted(let event): return event.userId
        case .orderConfirmed(let event): return event.userId
        }
    }

    public var streamId: String {
        switch self {
        case .productListed, .stockAdded: return StreamID.product(productId)
        case .stockReserved(let event): return StreamID.reservation(event.reservationId)
        case .reservationReverted(let event): return StreamID.reservation(event.reservationId)
        case .orderConfirmed(let event): return StreamID.reservation(event.reservationId)
        }
    }
}

public enum StreamID {
    public static func product(_ id: Int64) -> String { "product-\(id)" }
    public static func reservation(_ id: ReservationID) -> String { "reservation-\(id)" }
}

