import Foundation

extension RecordedEvent {
    /// The event as one JSON object (keys sorted, `data` and `metadata` nested): the Kafka
    /// message value and the HTTP event feed's item.
    public var json: String {
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
        return json.finish()
    }

    /// Reads the form `json` writes.
    public init(json bytes: [UInt8]) throws {
        func failure(_ reason: String) -> EventCodec.DecodingFailure {
            EventCodec.DecodingFailure(type: "event envelope", schemaVersion: 1, reason: reason)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw failure("not a JSON object")
        }
        func int64(_ key: String) throws -> Int64 {
            guard let number = object[key] as? NSNumber else { throw failure("\(key) is missing or not a number") }
            return number.int64Value
        }
        func string(_ key: String, in source: [String: Any] = object) throws -> String {
            guard let text = source[key] as? String else { throw failure("\(key) is missing or not a string") }
            return text
        }
        guard let data = object["data"] as? [String: Any], let metadata = object["metadata"] as? [String: Any] else {
            throw failure("data or metadata is missing")
        }
        guard let recordedAt = Timestamp(iso8601: try string("recordedAt")) else { throw failure("recordedAt is not ISO-8601") }
        let dataText = String(decoding: try JSONSerialization.data(withJSONObject: data, options: [.sortedKeys]), as: UTF8.self)
        self.init(
            position: try int64("position"), streamId: try string("streamId"), streamVersion: try int64("streamVersion"),
            eventId: try string("eventId"), type: try string("type"), schemaVersion: Int(try int64("schemaVersion")),
            data: dataText,
            metadata: EventMetadata(
                correlationId: metadata["correlationId"] as? String, causationId: metadata["causationId"] as? String,
                requestId: metadata["requestId"] as? String, actor: try string("actor", in: metadata)),
            recordedAt: recordedAt, productId: try int64("productId"),
            userId: object["userId"] == nil ? nil : try int64("userId"))
    }
}
