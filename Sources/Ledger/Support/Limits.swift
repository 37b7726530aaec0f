/// Every bound the service enforces, in one place. Each has a reason, not just a number.
public struct Limits: Sendable, Hashable {
    /// Idempotency keys: printable ASCII, at most this long (they become Redis keys and index entries).
    public var maxIdempotencyKeyLength = 64
    public var maxProductNameLength = 200
    public var maxPaymentRefLength = 128
    /// Largest quantity one reservation may ask for, whatever the per-user limit says.
    public var maxQuantityPerReservation: Int64 = 1_000
    /// Largest stock a product may be listed with or given in one StockAdded.
    public var maxStockPerEvent: Int64 = 1_000_000_000
    public var maxReservationTTLSeconds: Int64 = 86_400

    /// Group commit: most commands in one transaction, and how long the first may wait for company.
    public var writerMaxBatchSize = 1_000
    public var writerBatchDelayMs = 1
    /// Commands waiting for the writer; past this, callers get a retriable `overloaded` error.
    public var writerMaxQueueDepth = 20_000

    /// Expiry worker: how many expired reservations it reverts per pass, and how often it looks.
    public var expiryBatchSize = 500
    public var expiryIntervalMs = 1_000

    /// Largest page of events or reservations one read returns.
    public var maxPageSize = 1_000

    public init() {}
}
