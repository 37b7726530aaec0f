/// What the ledger holds after the run, read directly from its events (not through the server's
/// own audit), in ledger order.
public struct ChaosLedgerFacts: Sendable, Hashable, Codable {
    public struct Product: Sendable, Hashable, Codable {
        public var productId: Int64
        public var limitPerUser: Int64
        public var startsAtMs: Int64
        public var endsAtMs: Int64

        public init(productId: Int64, limitPerUser: Int64, startsAtMs: Int64, endsAtMs: Int64) {
            self.productId = productId
            self.limitPerUser = limitPerUser
            self.startsAtMs = startsAtMs
            self.endsAtMs = endsAtMs
        }
    }

    /// One ledger event that changes what a product has left or a user holds.
    public struct Event: Sendable, Hashable, Codable {
        public enum Change: Sendable, Hashable, Codable {
            /// A listing's stock or stock added.
            case stock(quantity: Int64)
            case reserved(reservationId: String, userId: Int64, quantity: Int64, idempotencyKey: String?)
            /// `reason`: `cancelled`, `expired` or `reverted`.
            case reverted(reservationId: String, reason: String)
            case confirmed(reservationId: String)
        }

        public var position: Int64
        /// When its transaction wrote it (the server's clock).
        public var recordedAtMs: Int64
        public var productId: Int64
        public var change: Change

        public init(position: Int64, recordedAtMs: Int64, productId: Int64, change: Change) {
            self.position = position
            self.recordedAtMs = recordedAtMs
            self.productId = productId
            self.change = change
        }
    }

    public var products: [Product]
    /// Every such event, in ledger order.
    public var events: [Event]

    public init(products: [Product], events: [Event]) {
        self.products = products
        self.events = events
    }
}
