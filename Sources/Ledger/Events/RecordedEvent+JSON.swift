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
}
