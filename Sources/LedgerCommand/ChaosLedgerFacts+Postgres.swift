import ArgumentParser
import Ledger
import LoadGenerator

extension ChaosLedgerFacts {
    /// The facts of every event (of `products` only, when given), read with plain SQL from the
    /// events' JSON (not through the ledger's decoder or fold, so that the checker does not rest
    /// on the code it judges).
    static func read(on connection: PostgresConnection, products only: [Int64]? = nil) async throws -> ChaosLedgerFacts {
        func epochMs(_ expression: String) -> String { "(extract(epoch FROM \(expression)) * 1000)::int8" }
        let rows = try await connection.query("""
            SELECT position, \(epochMs("recorded_at")) AS at_ms, product_id, type, user_id,
                   data->>'reservationId' AS reservation_id, (data->>'quantity')::int8 AS quantity,
                   data->>'idempotencyKey' AS idempotency_key, coalesce(data->>'reason', 'cancelled') AS reason,
                   (data->>'stock')::int8 AS stock, (data->>'limitPerUser')::int8 AS limit_per_user,
                   \(epochMs("(data->>'startsAt')::timestamptz")) AS starts_at_ms, \(epochMs("(data->>'endsAt')::timestamptz")) AS ends_at_ms
            FROM events \(only.map { "WHERE product_id IN (\($0.map(String.init).joined(separator: ",")))" } ?? "") ORDER BY position
            """)
        var products = [Product]()
        var events = [Event]()
        for row in rows {
            let position = try row["position"].int64(), atMs = try row["at_ms"].int64(), productId = try row["product_id"].int64()
            let change: Event.Change
            switch try row["type"].string() {
            case "ProductListed":
                products.append(Product(
                    productId: productId, limitPerUser: try row["limit_per_user"].int64(), startsAtMs: try row["starts_at_ms"].int64(),
                    endsAtMs: try row["ends_at_ms"].int64()))
                change = .stock(quantity: try row["stock"].int64())
            case "StockAdded":
                change = .stock(quantity: try row["quantity"].int64())
            case "StockReserved":
                change = .reserved(
                    reservationId: try row["reservation_id"].string(), userId: try row["user_id"].int64(), quantity: try row["quantity"].int64(),
                    idempotencyKey: try row["idempotency_key"].optional { try $0.string() })
            case "ReservationReverted":
                change = .reverted(reservationId: try row["reservation_id"].string(), reason: try row["reason"].string())
            case "OrderConfirmed":
                change = .confirmed(reservationId: try row["reservation_id"].string())
            case let other:
                throw ValidationError("the ledger holds an event of unknown type \(other) at position \(position)")
            }
            events.append(Event(position: position, recordedAtMs: atMs, productId: productId, change: change))
        }
        return ChaosLedgerFacts(products: products, events: events)
    }
}
