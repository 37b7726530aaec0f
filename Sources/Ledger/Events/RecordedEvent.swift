/// An event as the ledger stores it, with its place in the global order.
public struct RecordedEvent: Sendable, Hashable {
    public let position: Int64
    public let streamId: String
    public let streamVersion: Int64
    /// A UUID in its lower-case text form, as PostgreSQL prints it.
    public let eventId: String
    public let type: String
    public let schemaVersion: Int
    /// `data` as stored (JSON object text).
    public let data: String
    public let metadata: EventMetadata
    public let recordedAt: Timestamp
    public let productId: Int64
    public let userId: Int64?

    /// Decodes `data` into today's event type, upcasting older schema versions.
    public func decoded() throws -> LedgerEvent {
        try EventCodec.decode(type: type, schemaVersion: schemaVersion, data: data)
    }
}
