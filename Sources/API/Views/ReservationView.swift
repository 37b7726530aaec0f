import Ledger

/// A reservation as the API shows it to its owner or an admin.
struct ReservationView: Codable, Sendable, Equatable {
    var reservationId: String
    var productId: Int64
    var userId: Int64
    var quantity: Int64
    var unitPriceMinor: Int64
    /// reserved · confirmed · cancelled · expired · paymentFailed · gateRollback
    var status: String
    var expiresAt: String
    /// Ledger position of the `StockReserved` event.
    var position: Int64
    var idempotencyKey: String?
    var orderId: String?
    var paymentRef: String?

    init(_ state: ReservationState) {
        reservationId = state.reservationId.text
        productId = state.productId
        userId = state.userId
        quantity = state.quantity
        unitPriceMinor = state.unitPriceMinor
        status = state.status.rawValue
        expiresAt = state.expiresAt.iso8601
        position = state.reservedPosition
        idempotencyKey = state.idempotencyKey
        orderId = state.orderId
        paymentRef = state.paymentRef
    }

    /// The same object JSONEncoder writes (sorted keys, no nulls), written directly: this is on
    /// the path every successful reservation takes.
    var json: [UInt8] {
        var writer = JSONObjectWriter(capacity: 320)
        writer.field("expiresAt", expiresAt)
        writer.field("idempotencyKey", idempotencyKey)
        writer.field("orderId", orderId)
        writer.field("paymentRef", paymentRef)
        writer.field("position", position)
        writer.field("productId", productId)
        writer.field("quantity", quantity)
        writer.field("reservationId", reservationId)
        writer.field("status", status)
        writer.field("unitPriceMinor", unitPriceMinor)
        writer.field("userId", userId)
        return writer.finishedBytes()
    }
}

struct SeckillRequest: Codable, Sendable, FlatDecodable {
    var productId: Int64
    var quantity: Int64

    init?(flat object: FlatJSONObject) {
        guard object.fields.count == 2, let productId = object.int64("productId"), let quantity = object.int64("quantity") else { return nil }
        self.productId = productId
        self.quantity = quantity
    }
}

struct ConfirmRequest: Codable, Sendable {
    var paymentRef: String
}

struct ReservationPage: Codable, Sendable {
    var items: [ReservationView]
    /// Pass as `after` for the next page; null on the last.
    var next: Int64?
}
