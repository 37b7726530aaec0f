/// The SQL of phase 2 of `LedgerBatch`, one function per statement, each with the parameters it
/// binds. Statements that join an array with a table are planned per run (a batch touches a
/// product or two, but a user per reservation). A statement that changes fewer rows than the
/// batch decided fails the transaction (`ledger_expect_rows`).
enum BatchStatements {
    /// A listing's product and inventory rows.
    static func list(_ listed: ProductListed) -> [PostgresStatement] {
        [
            PostgresStatement(
                """
                INSERT INTO products (product_id, name, price_minor, currency, initial_stock, starts_at, ends_at, limit_per_user, reservation_ttl_seconds, stream_version)
                VALUES ($1, $2, $3, $4, $5, ledger_time($6), ledger_time($7), $8, $9, 1)
                """,
                [.int64(listed.productId), .text(listed.name), .int64(listed.priceMinor), .text(listed.currency), .int64(listed.stock),
                 .int64(listed.startsAt.epochMs), .int64(listed.endsAt.epochMs), .int64(listed.limitPerUser), .int64(listed.reservationTTLSeconds)]),
            PostgresStatement("INSERT INTO inventory (product_id, total, reserved) VALUES ($1, $2, 0)", [.int64(listed.productId), .int64(listed.stock)]),
        ]
    }

    /// The products' stream versions after the batch's stock events.
    static func setStreamVersions(_ changes: BatchChanges) -> PostgresStatement? {
        guard !changes.streamVersions.isEmpty else { return nil }
        let ids = changes.streamVersions.keys.sorted()
        return PostgresStatement(
            "UPDATE products p SET stream_version = v.version FROM unnest($1::int8[], $2::int8[]) AS v(product_id, version) WHERE p.product_id = v.product_id",
            [.int64Array(ids), .int64Array(ids.map { changes.streamVersions[$0]! })], plansEachRun: true)
    }

    /// The inventory rows (the hot rows of a sale) by their deltas. Looking each delta up in the
    /// arrays costs nothing for a product or two, and the ids' index scan is the plan whatever
    /// the table held when it was made.
    static func applyInventoryDeltas(_ changes: BatchChanges) -> PostgresStatement? {
        let ids = changes.inventoryDelta.keys.sorted()
        guard !ids.isEmpty else { return nil }
        return PostgresStatement(
            """
            WITH updated AS (
                UPDATE inventory i
                SET total = i.total + $2[array_position($1, i.product_id)], reserved = i.reserved + $3[array_position($1, i.product_id)]
                WHERE i.product_id = ANY($1::int8[])
                RETURNING 1
            )
            SELECT ledger_expect_rows((SELECT count(*) FROM updated), cardinality($1::int8[]), 'inventory rows updated')
            """,
            [.int64Array(ids), .int64Array(ids.map { changes.inventoryDelta[$0]!.total }), .int64Array(ids.map { changes.inventoryDelta[$0]!.reserved })])
    }

    /// Purchase rows that existed at the load (locked since) change by their delta, possibly
    /// negative (a revert). New rows go in with `append`; one that a batch committed since our
    /// load is not overwritten there (DO NOTHING, which also never waits for a batch that merely
    /// locked it): the count falls short and the batch is decided again, locked, seeing it.
    /// CHECKs apply to a proposed insert too, which is why negative deltas never take the insert path.
    static func applyPurchaseDeltas(_ changes: BatchChanges) -> PostgresStatement? {
        guard !changes.existingPurchases.isEmpty else { return nil }
        let bound = PurchaseColumns(keys: changes.existingPurchases, delta: changes.purchaseDelta)
        return PostgresStatement(
            purchaseDeltaSQL, Array(bound.parameters.prefix(purchaseDeltaColumns.count)), plansEachRun: true)
    }

    private static let purchaseDeltaColumns = Array(PurchaseColumns.columns.prefix(3))
    private static let purchaseDeltaSQL = """
        WITH updated AS (
            UPDATE purchases pu SET quantity = pu.quantity + d.quantity
            FROM \(BoundColumn.unnest(purchaseDeltaColumns, firstParameter: 1, as: "d"))
            WHERE pu.product_id = d.product_id AND pu.user_id = d.user_id
            RETURNING 1
        )
        SELECT ledger_expect_rows((SELECT count(*) FROM updated), cardinality($1::int8[]), 'purchase rows updated')
        """

    /// The column of `append`'s one row: the ledger head the batch was appended behind.
    static let appendedBaseColumn = "base"

    /// Takes the head (its row lock, held to COMMIT, makes positions follow commit order) and
    /// writes the events, the new reservations and the new purchase rows at the head plus the
    /// batch's own positions. One statement: every part reads the head's new value, none waits
    /// on another batch.
    static func append(_ changes: BatchChanges) -> PostgresStatement {
        let purchases = PurchaseColumns(keys: changes.freshPurchases, delta: changes.purchaseDelta)
        return PostgresStatement(
            appendSQL, [.int64(Int64(changes.eventCount))] + changes.events.parameters + changes.newReservations.parameters + purchases.parameters)
    }

    /// $1 the number of events; then the event, reservation and purchase columns in order.
    private static let appendSQL: String = {
        let firstReservation = 2 + EventColumns.columns.count
        let firstPurchase = firstReservation + ReservationColumns.columns.count
        return """
            WITH head AS (
                UPDATE ledger_head SET position = position + $1 WHERE id = 1 RETURNING position - $1 AS \(appendedBaseColumn)
            ), appended AS (
                INSERT INTO events (position, stream_id, stream_version, event_id, type, schema_version, data, metadata, product_id, user_id)
                SELECT head.base + e.position, e.stream_id, e.stream_version, e.event_id::uuid, e.type, e.schema_version, e.data::jsonb, e.metadata::jsonb, e.product_id, e.user_id
                FROM head, \(BoundColumn.unnest(EventColumns.columns, firstParameter: 2, as: "e"))
            ), reserved AS (
                INSERT INTO reservations (reservation_id, product_id, user_id, quantity, unit_price_minor, expires_at, idempotency_key, status, reserved_position)
                SELECT n.id::uuid, n.product_id, n.user_id, n.quantity, n.price, ledger_time(n.expires_ms), n.key, 'reserved', head.base + n.position
                FROM head, \(BoundColumn.unnest(ReservationColumns.columns, firstParameter: firstReservation, as: "n"))
            ), bought AS (
                INSERT INTO purchases (product_id, user_id, quantity, limit_per_user)
                SELECT b.product_id, b.user_id, b.quantity, b.limit_per_user
                FROM head, \(BoundColumn.unnest(PurchaseColumns.columns, firstParameter: firstPurchase, as: "b"))
                ON CONFLICT (product_id, user_id) DO NOTHING
                RETURNING 1
            )
            SELECT \(appendedBaseColumn), ledger_expect_rows((SELECT count(*) FROM bought), cardinality($\(firstPurchase)::int8[]), 'purchase rows inserted') FROM head
            """
    }()

    /// Apart from `append`, because the parts of one statement do not see each other's rows and
    /// a reservation may end in the batch that made it. The head row already holds this batch's
    /// last position, so $1 (the number of events) turns batch positions into ledger positions.
    static func endReservations(_ changes: BatchChanges) -> PostgresStatement? {
        guard !changes.endings.ids.isEmpty else { return nil }
        return PostgresStatement(endSQL, [.int64(Int64(changes.eventCount))] + changes.endings.parameters, plansEachRun: true)
    }

    private static let endSQL = """
        WITH ended AS (
            UPDATE reservations r SET status = e.status, ended_position = h.position - $1 + e.position, order_id = e.order_id::uuid, payment_ref = e.payment_ref
            FROM ledger_head h, \(BoundColumn.unnest(EndingColumns.columns, firstParameter: 2, as: "e"))
            WHERE h.id = 1 AND r.reservation_id = e.id::uuid AND r.status = 'reserved'
            RETURNING 1
        )
        SELECT ledger_expect_rows((SELECT count(*) FROM ended), cardinality($2::text[]), 'reservations ended')
        """
}
