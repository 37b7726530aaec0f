extension RecordedEvent {
    /// The event as one JSON object in UTF-8 (keys sorted, `data` and `metadata` nested): the
    /// Kafka message value and the HTTP event feed's item, both sent as bytes.
    public var json: [UInt8] {
        var json = JSONObjectWriter(capacity: data.utf8.count + 400)
        json.field("data", json: data)
        json.field("eventId", eventId)
        json.field("metadata", json: EventCodec.encode(metadata))
        json.field("position", position)
        json.field("productId", productId)
        json.field("recordedAt", recordedAt)
        json.field("schemaVersion", Int64(schemaVersion))
        json.field("streamId", streamId)
        json.field("streamVersion", streamVersion)
        json.field("type", type)
        json.field("userId", userId)
        return json.finishedBytes()
    }

    /// Reads the form `json` writes.
    public init(json bytes: [UInt8]) throws {
        func failure(_ reason: String) -> EventCodec.DecodingFailure {
            EventCodec.DecodingFailure(type: "event envelope", schemaVersion: 1, reason: reason)
        }
        guard let object = bytes.withUnsafeBytes({ FlatJSONObject(utf8: $0) }) else { throw failure("not a JSON object") }
        func int64(_ key: String) throws -> Int64 {
            guard let value = object.int64(key) else { throw failure("\(key) is missing or not an integer") }
            return value
        }
        func string(_ key: String) throws -> String {
            guard let value = object.string(key) else { throw failure("\(key) is missing or not a string") }
            return value
        }
        guard let data = object.object("data"), let metadataText = object.object("metadata"),
            let metadata = FlatJSONObject(metadataText), let actor = metadata.string("actor")
        else { throw failure("data or metadata is missing") }
        guard let recordedAt = Timestamp(iso8601: try string("recordedAt")) else { throw failure("recordedAt is not ISO-8601") }
        guard let userId = object.optionalInt64("userId") else { throw failure("userId is not an integer") }
        self.init(
            position: try int64("position"), streamId: try string("streamId"), streamVersion: try int64("streamVersion"),
            eventId: try string("eventId"), type: try string("type"), schemaVersion: Int(try int64("schemaVersion")),
            data: data,
            metadata: EventMetadata(
                correlationId: metadata.string("correlationId"), causationId: metadata.string("causationId"),
                requestId: metadata.string("requestId"), actor: actor),
            recordedAt: recordedAt, productId: try int64("productId"), userId: userId)
    }
}
