import Testing

@testable import Ledger
@testable import Projections

/// The projector reads an event's position, type and schema version from the relay's headers and
/// only `data` from the envelope: what it applies must be what the whole envelope says.
@Suite struct ProjectableEventTests {
    private let recorded = RecordedEvent(
        position: 41, streamId: "reservation-r1", streamVersion: 1, eventId: "01a23c97-abcb-74a7-8fc3-b7bbd69b1fcd", type: "StockReserved",
        schemaVersion: 1,
        data: EventCodec.encode(.stockReserved(StockReserved(
            reservationId: ReservationID("01a23c97-abcb-74a7-8fc3-b7bbd69b1fce")!, productId: 7, userId: 9, quantity: 2, unitPriceMinor: 1999, expiresAt: Timestamp(epochMs: 5),
            idempotencyKey: "k"))),
        metadata: EventMetadata(requestId: "q", actor: "user:9"), recordedAt: Timestamp(epochMs: 3), productId: 7, userId: 9)

    /// The relay's message as the consumer hands it over.
    private func consumed(_ outgoing: KafkaOutgoingMessage) -> KafkaMessage {
        KafkaMessage(topic: outgoing.topic, partition: 0, offset: 0, key: outgoing.key, value: outgoing.value, headers: outgoing.headers)
    }

    @Test func theRelaysMessageGivesTheEnvelopesPositionAndEvent() throws {
        let projectable = try ProjectableEvent(consumed(OutboxRelay.message(for: recorded, topic: "t")))
        #expect(projectable.position == recorded.position)
        #expect(projectable.event == (try recorded.decoded()))
    }

    @Test func aMessageWithoutItsHeadersOrDataIsRefused() {
        let message = OutboxRelay.message(for: recorded, topic: "t")
        for missing in ["position", "type", "schemaVersion"] {
            var stripped = message
            stripped.headers.removeAll { $0.name == missing }
            #expect(throws: EventCodec.DecodingFailure.self, "without \(missing)") { try ProjectableEvent(consumed(stripped)) }
        }
        var notAnInteger = message
        notAnInteger.headers = notAnInteger.headers.map { $0.name == "position" ? ($0.name, Array("4x".utf8)) : $0 }
        #expect(throws: EventCodec.DecodingFailure.self) { try ProjectableEvent(consumed(notAnInteger)) }
        var withoutData = message
        withoutData.value = Array(#"{"position":41,"type":"StockReserved"}"#.utf8)
        #expect(throws: EventCodec.DecodingFailure.self) { try ProjectableEvent(consumed(withoutData)) }
    }
}
