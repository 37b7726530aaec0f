/// SQL fragments and row decoders shared by the writer and the readers, so every query reads
/// a table's columns the same way (times as epoch milliseconds, uuids as text).
enum LedgerRows {
    static let productColumns = """
        p.product_id, p.name, p.price_minor, p.currency, p.initial_stock,
        ledger_ms(p.starts_at) AS starts_ms, ledger_ms(p.ends_at) AS ends_ms,
        p.limit_per_user, p.reservation_ttl_seconds, p.stream_version, i.total, i.reserved
        """

    static let reservationColumns = """
        r.reservation_id::text AS reservation_id, r.product_id, r.user_id, r.quantity, r.unit_price_minor,
        ledger_ms(r.expires_at) AS expires_ms, r.idempotency_key, r.status,
        r.reserved_position, r.ended_position, r.order_id::text AS order_id, r.payment_ref
        """

    static let eventColumns = """
        e.position, e.stream_id, e.stream_version, e.event_id::text AS event_id, e.type, e.schema_version,
        e.data::text AS data, e.metadata::text AS metadata, ledger_ms(e.recorded_at) AS recorded_ms,
        e.product_id, e.user_id
        """

    static func product(_ row: PostgresRow) throws -> ProductState {
        ProductState(
            listing: ProductListed(
                productId: try row["product_id"].int64(), name: try row["name"].string(),
                priceMinor: try row["price_minor"].int64(), currency: try row["currency"].string(),
                stock: try row["initial_stock"].int64(), startsAt: Timestamp(epochMs: try row["starts_ms"].int64()),
                endsAt: Timestamp(epochMs: try row["ends_ms"].int64()), limitPerUser: try row["limit_per_user"].int64(),
                reservationTTLSeconds: try row["reservation_ttl_seconds"].int64()),
            streamVersion: try row["stream_version"].int64(), totalStock: try row["total"].int64(),
            reservedUnits: try row["reserved"].int64())
    }

    static func reservation(_ row: PostgresRow) throws -> ReservationState {
        guard let status = ReservationStatus(rawValue: try row["status"].string()) else {
            throw PostgresError(code: .decoding, message: "unknown reservation status \(row["status"].text ?? "")")
        }
        return ReservationState(
            reservationId: try reservationID(row["reservation_id"]), productId: try row["product_id"].int64(),
            userId: try row["user_id"].int64(), quantity: try row["quantity"].int64(),
            unitPriceMinor: try row["unit_price_minor"].int64(), expiresAt: Timestamp(epochMs: try row["expires_ms"].int64()),
            idempotencyKey: row["idempotency_key"].text, status: status,
            reservedPosition: try row["reserved_position"].int64(), endedPosition: try row["ended_position"].optional { try $0.int64() },
            orderId: row["order_id"].text, paymentRef: row["payment_ref"].text)
    }

    /// A `uuid` column read as `::text`: PostgreSQL prints the canonical form.
    static func reservationID(_ cell: PostgresCell) throws -> ReservationID {
        guard let id = ReservationID(try cell.string()) else {
            throw PostgresError(code: .decoding, message: "column \(cell.column) is not a lower-case uuid")
        }
        return id
    }

    static func event(_ row: PostgresRow) throws -> RecordedEvent {
        RecordedEvent(
            position: try row["position"].int64(), streamId: try row["stream_id"].string(),
            streamVersion: try row["stream_version"].int64(), eventId: try row["event_id"].string(),
            type: try row["type"].string(), schemaVersion: try row["schema_version"].int(),
            data: try row["data"].string(), metadata: try EventCodec.decodeMetadata(try row["metadata"].string()),
            recordedAt: Timestamp(epochMs: try row["recorded_ms"].int64()), productId: try row["product_id"].int64(),
            userId: try row["user_id"].optional { try $0.int64() })
    }
}
