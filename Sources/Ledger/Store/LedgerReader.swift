/// Reads of the ledger: streams, the global log, audit views and current reservation state.
/// Uses its own connection so reads never queue behind the writer's transactions.
public final class LedgerReader: Sendable {
    private let connection: PostgresConnection
    private let limits: Limits

    public init(connection: PostgresConnection, limits: Limits = Limits()) {
        self.connection = connection
        self.limits = limits
    }

    /// Events after `position` in global order, at most `limit` (capped at `maxPageSize`).
    public func events(after position: Int64, limit: Int) async throws -> [RecordedEvent] {
        try await page("TRUE", [], after: position, limit: limit)
    }

    /// The global log after `position`, `limit` events, without the page-size cap: for the
    /// service's own tailers (relay, replay), which bound their batches themselves.
    public func log(after position: Int64, limit: Int) async throws -> [RecordedEvent] {
        try await connection.query(
            "SELECT \(LedgerRows.eventColumns) FROM events e WHERE e.position > $1 ORDER BY e.position LIMIT $2",
            [.int64(position), .int64(Int64(max(limit, 1)))]
        ).map(LedgerRows.event)
    }

    /// Which of `reservationIds` the ledger holds.
    public func existingReservations(_ reservationIds: [UUIDString]) async throws -> Set<UUIDString> {
        let canonical = reservationIds.filter(LedgerCommand.isCanonicalUUID)
        guard !canonical.isEmpty else { return [] }
        return Set(try await connection.query(
            "SELECT reservation_id::text AS id FROM reservations WHERE reservation_id = ANY($1::uuid[])", [.textArray(canonical)]
        ).map { try $0["id"].string() })
    }

    public func events(productId: Int64, after position: Int64 = 0, limit: Int) async throws -> [RecordedEvent] {
        try await page("e.product_id = $1", [.int64(productId)], after: position, limit: limit)
    }

    /// A user's events: those of the streams of the user's reservations.
    public func events(userId: Int64, after position: Int64 = 0, limit: Int) async throws -> [RecordedEvent] {
        try await page(
            "e.stream_id IN (SELECT 'reservation-' || r.reservation_id::text FROM reservations r WHERE r.user_id = $1)",
            [.int64(userId)], after: position, limit: limit)
    }

    /// A whole stream (`product-42`, `reservation-…`), oldest first.
    public func stream(_ streamId: String) async throws -> [RecordedEvent] {
        try await connection.query(
            "SELECT \(LedgerRows.eventColumns) FROM events e WHERE e.stream_id = $1 ORDER BY e.stream_version", [.text(streamId)]
        ).map(LedgerRows.event)
    }

    public func reservation(_ reservationId: UUIDString) async throws -> ReservationState? {
        guard LedgerCommand.isCanonicalUUID(reservationId) else { return nil }
        return try await connection.query(
            "SELECT \(LedgerRows.reservationColumns) FROM reservations r WHERE r.reservation_id = $1::uuid", [.text(reservationId)]
        ).first.map(LedgerRows.reservation)
    }

    /// A user's reservations, oldest first, after the one reserved at `position`.
    public func reservations(userId: Int64, after position: Int64 = 0, limit: Int) async throws -> [ReservationState] {
        try await connection.query(
            "SELECT \(LedgerRows.reservationColumns) FROM reservations r WHERE r.user_id = $1 AND r.reserved_position > $2 ORDER BY r.reserved_position LIMIT $3",
            [.int64(userId), .int64(position), .int64(Int64(min(max(limit, 1), limits.maxPageSize)))]
        ).map(LedgerRows.reservation)
    }

    public func product(_ productId: Int64) async throws -> ProductState? {
        try await connection.query(
            "SELECT \(LedgerRows.productColumns) FROM products p JOIN inventory i USING (product_id) WHERE p.product_id = $1",
            [.int64(productId)]
        ).first.map(LedgerRows.product)
    }

    /// Ids of reservations still `reserved` whose `expiresAt` is at or before `now`, soonest first.
    public func dueReservations(at now: Timestamp, limit: Int) async throws -> [UUIDString] {
        try await connection.query(
            "SELECT reservation_id::text AS id FROM reservations WHERE status = 'reserved' AND expires_at <= ledger_time($1) ORDER BY expires_at LIMIT $2",
            [.int64(now.epochMs), .int64(Int64(limit))]
        ).map { try $0["id"].string() }
    }

    /// The inline guard tables as a `LedgerState`, read in one snapshot.
    public func inlineTables() async throws -> LedgerState {
        try await connection.withSession { session in
            try session.transaction { session in
                try session.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                var state = LedgerState()
                for product in try session.query("SELECT \(LedgerRows.productColumns) FROM products p JOIN inventory i USING (product_id)").map(LedgerRows.product) {
                    state.products[product.productId] = product
                }
                for row in try session.query("SELECT product_id, user_id, quantity FROM purchases") {
                    state.purchases[PurchaseKey(productId: try row["product_id"].int64(), userId: try row["user_id"].int64())] = try row["quantity"].int64()
                }
                for reservation in try session.query("SELECT \(LedgerRows.reservationColumns) FROM reservations r").map(LedgerRows.reservation) {
                    state.reservations[reservation.reservationId] = reservation
                    if let key = reservation.idempotencyKey {
                        state.idempotencyKeys[IdempotencyKey(userId: reservation.userId, key: key)] = reservation.reservationId
                    }
                }
                return state
            }
        }
    }

    /// Folds every event of the ledger, in pages, into a `LedgerState`.
    public func foldAll(pageSize: Int = 10_000) async throws -> LedgerState {
        var state = LedgerState()
        var position: Int64 = 0
        while true {
            let page = try await log(after: position, limit: pageSize)
            for event in page { state.apply(try event.decoded(), position: event.position) }
            guard let last = page.last else { return state }
            position = last.position
        }
    }

    private func page(_ condition: String, _ parameters: [PostgresValue], after position: Int64, limit: Int) async throws -> [RecordedEvent] {
        let index = parameters.count
        return try await connection.query(
            "SELECT \(LedgerRows.eventColumns) FROM events e WHERE \(condition) AND e.position > $\(index + 1) ORDER BY e.position LIMIT $\(index + 2)",
            parameters + [.int64(position), .int64(Int64(min(max(limit, 1), limits.maxPageSize)))]
        ).map(LedgerRows.event)
    }
}
