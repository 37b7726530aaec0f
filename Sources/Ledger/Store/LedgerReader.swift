import Foundation
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

    /// Per product, the positions of its events up to `head`, in order (what a topic keyed by
    /// product must carry).
    public func positionsByProduct(through head: Int64) async throws -> [Int64: [Int64]] {
        var positions = [Int64: [Int64]]()
        var after: Int64 = 0
        while after < head {
            let rows = try await connection.query(
                "SELECT position, product_id FROM events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT 50000",
                [.int64(after), .int64(head)])
            guard !rows.isEmpty else { break }
            for row in rows {
                after = try row["position"].int64()
                positions[try row["product_id"].int64(), default: []].append(after)
            }
        }
        return positions
    }

    /// Which of `reservationIds` the ledger holds.
    public func existingReservations(_ reservationIds: [ReservationID]) async throws -> Set<ReservationID> {
        guard !reservationIds.isEmpty else { return [] }
        return Set(try await connection.query(
            "SELECT reservation_id::text AS id FROM reservations WHERE reservation_id = ANY($1::uuid[])", [.textArray(reservationIds.map(\.text))]
        ).map { try LedgerRows.reservationID($0["id"]) })
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

    public func reservation(_ reservationId: ReservationID) async throws -> ReservationState? {
        try await connection.query(
            "SELECT \(LedgerRows.reservationColumns) FROM reservations r WHERE r.reservation_id = $1::uuid", [.text(reservationId.text)]
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

    /// The product's available units and the position of its latest event recorded at or before
    /// `settledBefore` (0 when none); nil when there is no such product. The cut-off is a time
    /// the caller chose, not the moment the query runs: a query that waited in the connection's
    /// queue must not see events as settled that were not when the caller looked elsewhere.
    /// `recordedUnits`: in the same snapshot, the units of those of `reservationIds` the ledger
    /// has (in any state), which its available units no longer include.
    public func stockAndSettledPosition(
        _ productId: Int64, settledBefore: Timestamp, recordedAmong reservationIds: [ReservationID]
    ) async throws -> (available: Int64, settledPosition: Int64, recordedUnits: Int64)? {
        try await connection.query(
            """
            SELECT i.total - i.reserved AS available,
                   coalesce((SELECT max(e.position) FROM events e
                             WHERE e.product_id = $1 AND e.recorded_at <= ledger_time($2)), 0) AS settled,
                   coalesce((SELECT sum(r.quantity) FROM reservations r
                             WHERE r.reservation_id = ANY($3::uuid[]) AND r.product_id = $1), 0) AS recorded
            FROM inventory i WHERE i.product_id = $1
            """,
            [.int64(productId), .int64(settledBefore.epochMs), .textArray(reservationIds.map(\.text))]
        ).first.map {
            (available: try $0["available"].int64(), settledPosition: try $0["settled"].int64(), recordedUnits: try $0["recorded"].int64())
        }
    }

    /// Units `userId` holds of `productId` (reserved or confirmed): what the per-user limit
    /// counts; and, in the same snapshot, the units of those of `reservationIds` the ledger has.
    public func heldUnits(
        productId: Int64, userId: Int64, recordedAmong reservationIds: [ReservationID]
    ) async throws -> (held: Int64, recordedUnits: Int64) {
        let row = try await connection.query(
            """
            SELECT coalesce((SELECT quantity FROM purchases WHERE product_id = $1 AND user_id = $2), 0) AS held,
                   coalesce((SELECT sum(quantity) FROM reservations
                             WHERE reservation_id = ANY($3::uuid[]) AND product_id = $1), 0) AS recorded
            """,
            [.int64(productId), .int64(userId), .textArray(reservationIds.map(\.text))])[0]
        return (held: try row["held"].int64(), recordedUnits: try row["recorded"].int64())
    }

    /// Ids of reservations still `reserved` whose `expiresAt` is at or before `now`, soonest first.
    public func dueReservations(at now: Timestamp, limit: Int) async throws -> [ReservationID] {
        try await connection.query(
            "SELECT reservation_id::text AS id FROM reservations WHERE status = 'reserved' AND expires_at <= ledger_time($1) ORDER BY expires_at LIMIT $2",
            [.int64(now.epochMs), .int64(Int64(limit))]
        ).map { try LedgerRows.reservationID($0["id"]) }
    }

    /// The fold of every event and (optionally) the inline tables, both read in one
    /// repeatable-read snapshot so they describe the same moment of a live ledger. Decoding runs
    /// on the connection's thread, off the cooperative pool.
    public func snapshot(includingTables: Bool) async throws -> LedgerSnapshot {
        let pageSize = limits.replayPageSize
        return try await connection.withSession { session in
            try session.transaction { session in
                try session.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                var snapshot = LedgerSnapshot()
                snapshot.reserveCapacity(events: try session.query("SELECT position FROM ledger_head")[0]["position"].int64())
                while true {
                    let page = try session.query(Self.foldPageSQL, [.int64(snapshot.head), .int64(Int64(pageSize))])
                    try snapshot.apply(page)
                    if page.count < pageSize { break }
                }
                if includingTables { snapshot.tables = try Self.tables(session) }
                return snapshot
            }
        }
    }

    /// The fold of the whole log without a snapshot transaction: pages are read by position,
    /// which only grows in commit order, so every page continues the previous one exactly. The
    /// next page is fetched while this one is folded (replay: the database and the fold each
    /// get a core).
    public func foldLog(pageSize: Int) async throws -> LedgerSnapshot {
        var snapshot = LedgerSnapshot()
        snapshot.reserveCapacity(events: try await connection.query("SELECT position FROM ledger_head")[0]["position"].int64())
        var page = try await connection.query(Self.foldPageSQL, [.int64(0), .int64(Int64(pageSize))])
        while true {
            let last = page.isEmpty ? snapshot.head : try page[page.count - 1]["position"].int64()
            let isLast = page.count < pageSize
            async let next = isLast ? nil : connection.query(Self.foldPageSQL, [.int64(last), .int64(Int64(pageSize))])
            try snapshot.apply(page)
            guard let following = try await next else { return snapshot }
            page = following
        }
    }

    static let foldPageSQL =
        "SELECT position, type, schema_version, data::text AS data, product_id FROM events WHERE position > $1 ORDER BY position LIMIT $2"

    private static func tables(_ session: PostgresSession) throws -> LedgerState {
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

    private func page(_ condition: String, _ parameters: [PostgresValue], after position: Int64, limit: Int) async throws -> [RecordedEvent] {
        let index = parameters.count
        return try await connection.query(
            "SELECT \(LedgerRows.eventColumns) FROM events e WHERE \(condition) AND e.position > $\(index + 1) ORDER BY e.position LIMIT $\(index + 2)",
            parameters + [.int64(position), .int64(Int64(min(max(limit, 1), limits.maxPageSize)))]
        ).map(LedgerRows.event)
    }
}
