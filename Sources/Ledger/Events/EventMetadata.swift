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
