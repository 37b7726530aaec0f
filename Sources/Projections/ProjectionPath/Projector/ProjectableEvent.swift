import Ledger

/// What the projector applies from a topic message: the event and its ledger position. The relay
/// puts the position, type and schema version in every message's headers (docs/architecture.md, the relay), so of
/// the JSON envelope only `data` is read rather than building all eleven of its fields for
/// every event.
struct ProjectableEvent {
    let position: Int64
    let event: LedgerEvent

    init(position: Int64, event: LedgerEvent) {
        self.position = position
        self.event = event
    }

    init(_ message: KafkaMessage) throws {
        func failure(_ reason: String) -> EventCodec.DecodingFailure {
            EventCodec.DecodingFailure(type: "event message", schemaVersion: 1, reason: reason)
        }
        guard let position = message.integerHeader("position"),
            let type = message.header("type").map({ String(decoding: $0, as: UTF8.self) }),
            let schemaVersion = message.integerHeader("schemaVersion").flatMap({ Int(exactly: $0) })
        else { throw failure("the position, type or schemaVersion header is missing or not an integer") }
        guard let data = message.value.withUnsafeBytes({ FlatJSONObject(utf8: $0, keeping: ["data"]) })?.object("data") else {
            throw failure("the value is not an event envelope with a data object")
        }
        self.init(position: position, event: try EventCodec.decode(type: type, schemaVersion: schemaVersion, data: data))
    }
}
