/// What the clients of a chaos run saw: every operation with its start, end, request and
/// outcome, as a Jepsen history records it. Times are epoch milliseconds of the client's clock.
public struct ChaosOperation: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case reserve, confirm, cancel
    }

    public enum Outcome: Sendable, Hashable, Codable {
        /// 2xx: for a reservation, the id the server acknowledged.
        case ok(reservationId: String)
        /// A 4xx with its problem `code` (`sold-out`, `limit-exceeded`, …) or a 503 `overloaded`:
        /// the server says nothing was done.
        case refused(code: String)
        /// A timeout, a reset connection or a 503 `unavailable`: it may or may not have happened.
        case unknown(reason: String)
    }

    public var kind: Kind
    public var startMs: Int64
    public var endMs: Int64
    public var userId: Int64
    public var productId: Int64
    public var quantity: Int64
    public var idempotencyKey: String?
    /// The reservation a confirm or cancel names.
    public var reservationId: String?
    public var outcome: Outcome

    public init(
        kind: Kind, startMs: Int64, endMs: Int64, userId: Int64, productId: Int64, quantity: Int64 = 1, idempotencyKey: String? = nil,
        reservationId: String? = nil, outcome: Outcome
    ) {
        self.kind = kind
        self.startMs = startMs
        self.endMs = endMs
        self.userId = userId
        self.productId = productId
        self.quantity = quantity
        self.idempotencyKey = idempotencyKey
        self.reservationId = reservationId
        self.outcome = outcome
    }
}
