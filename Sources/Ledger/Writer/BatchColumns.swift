import Foundation

/// One array parameter of a batch statement, unnested as a named column of a given type. A
/// column set's `columns` and `parameters` list the same columns in the same order; the SQL's
/// `$n` numbers are counted from them (`unnest`), never written by hand.
struct BoundColumn {
    let name: String
    /// The element type: `int8` or `text`.
    let type: String

    /// `unnest($first::type[], …) AS alias(name, …)`.
    static func unnest(_ columns: [BoundColumn], firstParameter: Int, as alias: String) -> String {
        let arrays = columns.enumerated().map { "$\(firstParameter + $0.offset)::\($0.element.type)[]" }
        return "unnest(\(arrays.joined(separator: ", "))) AS \(alias)(\(columns.map(\.name).joined(separator: ", ")))"
    }
}

/// The events a batch appends, column by column.
struct EventColumns {
    static let columns = [
        BoundColumn(name: "position", type: "int8"), BoundColumn(name: "stream_id", type: "text"), BoundColumn(name: "stream_version", type: "int8"),
        BoundColumn(name: "event_id", type: "text"), BoundColumn(name: "type", type: "text"), BoundColumn(name: "schema_version", type: "int8"),
        BoundColumn(name: "data", type: "text"), BoundColumn(name: "metadata", type: "text"), BoundColumn(name: "product_id", type: "int8"),
        BoundColumn(name: "user_id", type: "int8"),
    ]

    var positions: [Int64?] = [], streams: [String?] = [], versions: [Int64?] = [], ids: [String?] = []
    var types: [String?] = [], schemaVersions: [Int64?] = [], data: [String?] = [], metadata: [String?] = []
    var products: [Int64?] = [], users: [Int64?] = []

    mutating func append(_ event: LedgerEvent, position: Int64, streamVersion: Int64, metadata eventMetadata: EventMetadata) {
        positions.append(position)
        streams.append(event.streamId)
        versions.append(streamVersion)
        ids.append(UUID.v7().lowercased)
        types.append(event.type)
        schemaVersions.append(Int64(event.schemaVersion))
        data.append(EventCodec.encode(event))
        metadata.append(EventCodec.encode(eventMetadata))
        products.append(event.productId)
        users.append(event.userId)
    }

    var parameters: [PostgresValue] {
        [.int64Array(positions), .textArray(streams), .int64Array(versions), .textArray(ids), .textArray(types),
         .int64Array(schemaVersions), .textArray(data), .textArray(metadata), .int64Array(products), .int64Array(users)]
    }
}

/// The reservations a batch makes.
struct ReservationColumns {
    static let columns = [
        BoundColumn(name: "id", type: "text"), BoundColumn(name: "product_id", type: "int8"), BoundColumn(name: "user_id", type: "int8"),
        BoundColumn(name: "quantity", type: "int8"), BoundColumn(name: "price", type: "int8"), BoundColumn(name: "expires_ms", type: "int8"),
        BoundColumn(name: "key", type: "text"), BoundColumn(name: "position", type: "int8"),
    ]

    var ids: [String?] = [], products: [Int64?] = [], users: [Int64?] = [], quantities: [Int64?] = []
    var prices: [Int64?] = [], expiries: [Int64?] = [], keys: [String?] = [], positions: [Int64?] = []

    mutating func append(_ reserved: StockReserved, position: Int64) {
        ids.append(reserved.reservationId.text)
        products.append(reserved.productId)
        users.append(reserved.userId)
        quantities.append(reserved.quantity)
        prices.append(reserved.unitPriceMinor)
        expiries.append(reserved.expiresAt.epochMs)
        keys.append(reserved.idempotencyKey)
        positions.append(position)
    }

    var parameters: [PostgresValue] {
        [.textArray(ids), .int64Array(products), .int64Array(users), .int64Array(quantities), .int64Array(prices),
         .int64Array(expiries), .textArray(keys), .int64Array(positions)]
    }
}

/// Purchase rows a batch inserts or changes by a delta.
struct PurchaseColumns {
    static let columns = [
        BoundColumn(name: "product_id", type: "int8"), BoundColumn(name: "user_id", type: "int8"), BoundColumn(name: "quantity", type: "int8"),
        BoundColumn(name: "limit_per_user", type: "int8"),
    ]

    let keys: [PurchaseKey]
    let delta: [PurchaseKey: (quantity: Int64, limit: Int64)]

    var parameters: [PostgresValue] {
        [.int64Array(keys.map(\.productId)), .int64Array(keys.map(\.userId)), .int64Array(keys.map { delta[$0]!.quantity }),
         .int64Array(keys.map { delta[$0]!.limit })]
    }
}

/// The reservations a batch ends (confirmed, cancelled, expired, reverted).
struct EndingColumns {
    static let columns = [
        BoundColumn(name: "id", type: "text"), BoundColumn(name: "status", type: "text"), BoundColumn(name: "position", type: "int8"),
        BoundColumn(name: "order_id", type: "text"), BoundColumn(name: "payment_ref", type: "text"),
    ]

    var ids: [String?] = [], statuses: [String?] = [], positions: [Int64?] = [], orderIds: [String?] = [], paymentRefs: [String?] = []

    mutating func append(id: ReservationID, status: ReservationStatus, position: Int64, orderId: String?, paymentRef: String?) {
        ids.append(id.text)
        statuses.append(status.rawValue)
        positions.append(position)
        orderIds.append(orderId)
        paymentRefs.append(paymentRef)
    }

    var parameters: [PostgresValue] {
        [.textArray(ids), .textArray(statuses), .int64Array(positions), .textArray(orderIds), .textArray(paymentRefs)]
    }
}
