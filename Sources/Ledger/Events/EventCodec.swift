import Foundation

/// The stable JSON form of events. Keys are sorted so the same event always has the same bytes.
public enum EventCodec {
    public struct DecodingFailure: Error, CustomStringConvertible {
        public let type: String
        public let schemaVersion: Int
        public let reason: String
        public var isRetriable: Bool { false }
        public var description: String { "cannot decode \(type) v\(schemaVersion): \(reason)" }

        public init(type: String, schemaVersion: Int, reason: String) {
            (self.type, self.schemaVersion, self.reason) = (type, schemaVersion, reason)
        }
    }

    /// Versions written today. Bump one when its `data` changes shape, and add an upcaster
    /// from the previous version below.
    static let currentSchemaVersion: [String: Int] = [
        "ProductListed": 1, "StockAdded": 1, "StockReserved": 1, "ReservationReverted": 2, "OrderConfirmed": 1,
    ]

    /// Upcasters: (type, version) → the JSON object of version + 1.
    static let upcasters: [String: [Int: @Sendable ([String: Any]) -> [String: Any]]] = [
        // v1 predates expiry and payment failures: every revert was a user cancelling.
        "ReservationReverted": [1: { object in object.merging(["reason": "cancelled"]) { old, _ in old } }]
    ]

    /// The event's `data`, keys sorted (JSONEncoder was the writer's hottest code).
    public static func encode(_ event: LedgerEvent) -> String {
        var json = JSONObjectWriter()
        switch event {
        case .productListed(let e):
            json.field("currency", e.currency)
            json.field("endsAt", e.endsAt)
            json.field("limitPerUser", e.limitPerUser)
            json.field("name", e.name)
            json.field("priceMinor", e.priceMinor)
            json.field("productId", e.productId)
            json.field("reservationTTLSeconds", e.reservationTTLSeconds)
            json.field("startsAt", e.startsAt)
            json.field("stock", e.stock)
        case .stockAdded(let e):
            json.field("productId", e.productId)
            json.field("quantity", e.quantity)
        case .stockReserved(let e):
            json.field("expiresAt", e.expiresAt)
            json.field("idempotencyKey", e.idempotencyKey)
            json.field("productId", e.productId)
            json.field("quantity", e.quantity)
            json.field("reservationId", e.reservationId.text)
            json.field("unitPriceMinor", e.unitPriceMinor)
            json.field("userId", e.userId)
        case .reservationReverted(let e):
            json.field("productId", e.productId)
            json.field("quantity", e.quantity)
            json.field("reason", e.reason.rawValue)
            json.field("reservationId", e.reservationId.text)
            json.field("userId", e.userId)
        case .orderConfirmed(let e):
            json.field("orderId", e.orderId)
            json.field("paymentRef", e.paymentRef)
            json.field("productId", e.productId)
            json.field("reservationId", e.reservationId.text)
            json.field("userId", e.userId)
        }
        return json.finish()
    }

    public static func decode(type: String, schemaVersion: Int, data: String) throws -> LedgerEvent {
        guard let current = currentSchemaVersion[type] else {
            throw DecodingFailure(type: type, schemaVersion: schemaVersion, reason: "unknown event type")
        }
        guard schemaVersion >= 1, schemaVersion <= current else {
            throw DecodingFailure(type: type, schemaVersion: schemaVersion, reason: "this build reads versions 1…\(current)")
        }
        if schemaVersion == current, let object = FlatJSONObject(data), let event = decodeFlat(type: type, object) {
            return event
        }
        var bytes = Data(data.utf8)
        if schemaVersion < current {
            guard var object = try JSONSerialization.jsonObject(with: bytes) as? [String: Any] else {
                throw DecodingFailure(type: type, schemaVersion: schemaVersion, reason: "data is not a JSON object")
            }
            for version in schemaVersion..<current {
                guard let upcast = upcasters[type]?[version] else {
                    throw DecodingFailure(type: type, schemaVersion: version, reason: "no upcaster to v\(version + 1)")
                }
                object = upcast(object)
            }
            bytes = try JSONSerialization.data(withJSONObject: object)
        }
        let decoder = JSONDecoder()
        do {
            switch type {
            case "ProductListed": return .productListed(try decoder.decode(ProductListed.self, from: bytes))
            case "StockAdded": return .stockAdded(try decoder.decode(StockAdded.self, from: bytes))
            case "StockReserved": return .stockReserved(try decoder.decode(StockReserved.self, from: bytes))
            case "ReservationReverted": return .reservationReverted(try decoder.decode(ReservationReverted.self, from: bytes))
            default: return .orderConfirmed(try decoder.decode(OrderConfirmed.self, from: bytes))
            }
        } catch {
            throw DecodingFailure(type: type, schemaVersion: schemaVersion, reason: "\(error)")
        }
    }

    /// The fast path for data in today's version: nil when a field is missing or mistyped, and
    /// the general decoder then reports it.
    private static func decodeFlat(type: String, _ object: FlatJSONObject) -> LedgerEvent? {
        func time(_ key: String) -> Timestamp? { object.string(key).flatMap(Timestamp.init(iso8601:)) }
        switch type {
        case "ProductListed":
            guard let productId = object.int64("productId"), let name = object.string("name"),
                let priceMinor = object.int64("priceMinor"), let currency = object.string("currency"),
                let stock = object.int64("stock"), let startsAt = time("startsAt"), let endsAt = time("endsAt"),
                let limitPerUser = object.int64("limitPerUser"), let ttl = object.int64("reservationTTLSeconds")
            else { return nil }
            return .productListed(ProductListed(
                productId: productId, name: name, priceMinor: priceMinor, currency: currency, stock: stock,
                startsAt: startsAt, endsAt: endsAt, limitPerUser: limitPerUser, reservationTTLSeconds: ttl))
        case "StockAdded":
            guard let productId = object.int64("productId"), let quantity = object.int64("quantity") else { return nil }
            return .stockAdded(StockAdded(productId: productId, quantity: quantity))
        case "StockReserved":
            guard let reservationId = object.string("reservationId").flatMap(ReservationID.init), let productId = object.int64("productId"),
                let userId = object.int64("userId"), let quantity = object.int64("quantity"),
                let unitPriceMinor = object.int64("unitPriceMinor"), let expiresAt = time("expiresAt"),
                let key = object.optionalString("idempotencyKey")
            else { return nil }
            return .stockReserved(StockReserved(
                reservationId: reservationId, productId: productId, userId: userId, quantity: quantity,
                unitPriceMinor: unitPriceMinor, expiresAt: expiresAt, idempotencyKey: key))
        case "ReservationReverted":
            guard let reservationId = object.string("reservationId").flatMap(ReservationID.init), let productId = object.int64("productId"),
                let userId = object.int64("userId"), let quantity = object.int64("quantity"),
                let reason = object.string("reason").flatMap(RevertReason.init(rawValue:))
            else { return nil }
            return .reservationReverted(ReservationReverted(
                reservationId: reservationId, productId: productId, userId: userId, quantity: quantity, reason: reason))
        case "OrderConfirmed":
            guard let reservationId = object.string("reservationId").flatMap(ReservationID.init), let productId = object.int64("productId"),
                let userId = object.int64("userId"), let orderId = object.string("orderId"), let paymentRef = object.string("paymentRef")
            else { return nil }
            return .orderConfirmed(OrderConfirmed(
                reservationId: reservationId, productId: productId, userId: userId, orderId: orderId, paymentRef: paymentRef))
        default:
            return nil
        }
    }

    public static func encode(_ metadata: EventMetadata) -> String {
        var json = JSONObjectWriter(capacity: 96)
        json.field("actor", metadata.actor)
        json.field("causationId", metadata.causationId)
        json.field("correlationId", metadata.correlationId)
        json.field("requestId", metadata.requestId)
        return json.finish()
    }

    /// The flat parser first: the relay reads every event's metadata, and JSONDecoder was a
    /// visible share of the server's CPU under load. JSONDecoder stays for anything the parser refuses.
    public static func decodeMetadata(_ text: String) throws -> EventMetadata {
        if let object = FlatJSONObject(text), let actor = object.string("actor"),
            case .some(let correlationId) = object.optionalString("correlationId"),
            case .some(let causationId) = object.optionalString("causationId"),
            case .some(let requestId) = object.optionalString("requestId")
        {
            return EventMetadata(correlationId: correlationId, causationId: causationId, requestId: requestId, actor: actor)
        }
        return try JSONDecoder().decode(EventMetadata.self, from: Data(text.utf8))
    }
}
