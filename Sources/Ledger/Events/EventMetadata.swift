/// Who and what caused an event: for tracing a request through the ledger and for audits.
public struct EventMetadata: Codable, Sendable, Hashable {
    public var correlationId: String?
    public var causationId: String?
    public var requestId: String?
    /// `user:42`, `admin:7`, `system:expiry` …
    public var actor: String

    public init(correlationId: String? = nil, causationId: String? = nil, requestId: String? = nil, actor: String) {
        self.correlationId = correlationId
        self.causationId = causationId
        self.requestId = requestId
        self.actor = actor
    }
}

extension EventMetadata {
    /// Every field must be printable ASCII within `maxMetadataFieldBytes`: metadata travels into
    /// every event's JSON and every Kafka message, so nothing a client sent is stored raw.
    public func validate(_ limits: Limits) -> LedgerRejection? {
        for (name, value) in [("actor", actor), ("requestId", requestId), ("correlationId", correlationId), ("causationId", causationId)] {
            if let value, !StoredText.isToken(value, maxBytes: limits.maxMetadataFieldBytes) {
                return LedgerRejection(.invalid, "metadata \(name) must be 1…\(limits.maxMetadataFieldBytes) printable ASCII characters")
            }
        }
        return nil
    }
}
