import Foundation

/// One group-commit transaction, in two phases so that concurrent batches overlap:
///
/// 1. Beside other batches, only reading and locking: lock the reservation and purchase rows the
///    commands touch, read the products (locking their inventory rows only when
///    `InventoryLocking` says so), decide every command in order (`LedgerState.execute`,
///    positions counted from 1 of this batch) and encode the events.
/// 2. One batch at a time: listings, the inventory deltas (the hot row of a flash sale), the
///    existing purchase rows, then one statement that takes the ledger head and writes the
///    events, reservations and new purchase rows at the head plus the batch's own positions;
///    endings; COMMIT.
///
/// Each phase is one round trip (a libpq pipeline): BEGIN travels with the reads, COMMIT with
/// the writes, and a statement that changes fewer rows than decided fails inside the
/// transaction (`ledger_expect_rows`). A batch that ends reservations reads its purchase and
/// product rows in a second trip, since which ones it needs comes from the reservation rows.
/// Less time between the inventory row's lock and COMMIT is less time other batches wait.
///
/// Every batch takes its locks in the same order (reservations, purchases, inventory, head), and
/// one holding inventory or head never waits for one still in phase 1, so batches cannot
/// deadlock one another. Runs on the writer connection's thread.
struct LedgerBatch: Sendable {
    struct Item: Sendable {
        var command: LedgerCommand
        var metadata: EventMetadata
    }

    let items: [Item]
    let now: Timestamp
    let limits: Limits
    /// Decide under the inventory lock whatever the stock (the retry of a batch a guard refused:
    /// an unlocked decision that ran into the inventory CHECK, or a purchase row that appeared).
    var alwaysLockInventory = false

    /// Decides and writes every item in a transaction of its own; rolls back and rethrows on
    /// failure. Nobody may be told "committed" unless this returns.
    func run(_ session: PostgresSession) throws -> [CommandResult] {
        do {
            return try decideAndWrite(session)
        } catch {
            // A failed pipeline leaves the transaction aborted (or, with a lost connection, gone:
            // ROLLBACK on the new one only warns).
            _ = try? session.query("ROLLBACK")
            throw error
        }
    }

    private func decideAndWrite(_ session: PostgresSession) throws -> [CommandResult] {
        var state = try load(session)
        let before = state
        var nextPosition: Int64 = 1
        var results = [CommandResult]()
        var appended = [(position: Int64, event: LedgerEvent, metadata: EventMetadata)]()
        for item in items {
            let execution = state.execute(item.command, at: now, nextPosition: &nextPosition, limits: limits)
            results.append(execution.result)
            appended += execution.events.map { ($0.position, $0.event, item.metadata) }
        }
        guard !appended.isEmpty else {
            try PostgresSession.expectCommitted(try session.query("COMMIT"))
            return results
        }
        let base = try write(appended, before: before, session)
        return Self.positioned(results, base: base, appended: appended.map(\.event))
    }

    /// Results decided with batch-relative positions, moved behind the ledger head `base`.
    private static func positioned(_ results: [CommandResult], base: Int64, appended: [LedgerEvent]) -> [CommandResult] {
        var reservedHere = Set<UUIDString>(), endedHere = Set<UUIDString>()
        for event in appended {
            switch event {
            case .stockReserved(let reserved): reservedHere.insert(reserved.reservationId)
            case .reservationReverted(let reverted): endedHere.insert(reverted.reservationId)
            case .orderConfirmed(let confirmed): endedHere.insert(confirmed.reservationId)
            case .productListed, .stockAdded: continue
            }
        }
        return results.map { result in
            guard case .reservation(var reservation, let duplicate) = result else { return result }
            if reservedHere.contains(reservation.reservationId) { reservation.reservedPosition += base }
            if endedHere.contains(reservation.reservationId) { reservation.endedPosition? += base }
            return .reservation(reservation, duplicate: duplicate)
        }
    }

    // MARK: Load

    private func load(_ session: PostgresSession) throws -> LedgerState {
        var state = LedgerState()
        var reservationIds = Set<UUIDString>()
        var idempotencyUsers = [Int64]()
        var idempotencyKeys = [String?]()
        var productIds = Set<Int64>()
        var purchaseKeys = Set<PurchaseKey>()
        for item in items {
            switch item.command {
            case .listProduct(let listing): productIds.insert(listing.productId)
            case .addStock(let productId, _): productIds.insert(productId)
            case .reserve(let reserve):
                productIds.insert(reserve.productId)
                purchaseKeys.insert(PurchaseKey(productId: reserve.productId, userId: reserve.userId))
                // A reused reservation id is caught by the reservations primary key instead.
                if let key = reserve.idempotencyKey {
                    idempotencyUsers.append(reserve.userId)
                    idempotencyKeys.append(key)
                }
            case .confirm, .cancel, .expire, .revert:
                if let id = item.command.reservationId { reservationIds.insert(id) }
            }
        }
        // Rows are locked in key order so that concurrent writers cannot deadlock: each array of
        // rows to lock is sorted and drives a lateral key lookup, which locks in array order. The
        // lateral form also fixes the join order, so the plan the writer's session caches is key
        // lookups whatever the tables held when it was made (`StatementPlanning.cachedKeyLookups`).
        var reads = [PostgresStatement("BEGIN")]
        let byId = reservationIds.isEmpty ? nil : reads.count
        if byId != nil {
            reads.append(PostgresStatement(
                """
                SELECT \(LedgerRows.reservationColumns) FROM unnest($1::text[]) AS k(id)
                CROSS JOIN LATERAL (SELECT * FROM reservations r WHERE r.reservation_id = k.id::uuid OFFSET 0 FOR UPDATE) r
                """,
                [.textArray(reservationIds.sorted())]))
        }
        let byKey = idempotencyKeys.isEmpty ? nil : reads.count
        if byKey != nil {
            reads.append(PostgresStatement(
                """
                SELECT \(LedgerRows.reservationColumns) FROM unnest($1::int8[], $2::text[]) AS k(user_id, key)
                CROSS JOIN LATERAL (SELECT * FROM reservations r WHERE r.user_id = k.user_id AND r.idempotency_key = k.key OFFSET 0) r
                """,
                [.int64Array(idempotencyUsers), .textArray(idempotencyKeys)]))
        }
        // A batch of reservations knows every row it needs now; one that ends reservations
        // learns their products and users from the rows the first trip locks.
        let rowsInFirstTrip = reservationIds.isEmpty
        // Where the purchase rows' result (then the products') sits in its trip's results.
        var rowsAt = rowsInFirstTrip ? reads.count : 0
        if rowsInFirstTrip { reads += productAndPurchaseReads(productIds, purchaseKeys) }
        var results = try session.pipeline(reads)

        for index in [byId, byKey].compactMap({ $0 }) {
            for reservation in try results[index].map(LedgerRows.reservation) {
                state.reservations[reservation.reservationId] = reservation
                if let key = reservation.idempotencyKey {
                    state.idempotencyKeys[IdempotencyKey(userId: reservation.userId, key: key)] = reservation.reservationId
                }
                // A reservation found by its idempotency key only answers a retry; one found by
                // id is ended here and changes its product's and user's rows.
                if index == byId {
                    productIds.insert(reservation.productId)
                    purchaseKeys.insert(PurchaseKey(productId: reservation.productId, userId: reservation.userId))
                }
            }
        }
        if !rowsInFirstTrip {
            results = try session.pipeline(productAndPurchaseReads(productIds, purchaseKeys))
        }
        if !purchaseKeys.isEmpty {
            for row in results[rowsAt] {
                state.purchases[PurchaseKey(productId: try row["product_id"].int64(), userId: try row["user_id"].int64())] =
                    try row["quantity"].int64()
            }
            rowsAt += 1
        }
        if !productIds.isEmpty {
            state.products = try Self.products(results[rowsAt])
            if !alwaysLockInventory,
                InventoryLocking.mustLock(items.map(\.command), unlockedProducts: state.products, headroomUnits: limits.writerUnlockedStockHeadroomUnits)
            {
                state.products = try Self.products(try session.pipeline([productsRead(productIds, locked: true)])[0])
            }
        }
        return state
    }

    /// The purchase rows (locked) and the products (inventory locked when `alwaysLockInventory`),
    /// each only when there is something to read.
    private func productAndPurchaseReads(_ productIds: Set<Int64>, _ purchaseKeys: Set<PurchaseKey>) -> [PostgresStatement] {
        var reads = [PostgresStatement]()
        if !purchaseKeys.isEmpty {
            let sorted = purchaseKeys.sorted()
            reads.append(PostgresStatement(
                """
                SELECT pu.product_id, pu.user_id, pu.quantity FROM unnest($1::int8[], $2::int8[]) AS k(product_id, user_id)
                CROSS JOIN LATERAL (
                    SELECT * FROM purchases pu WHERE pu.product_id = k.product_id AND pu.user_id = k.user_id OFFSET 0 FOR UPDATE
                ) pu
                """,
                [.int64Array(sorted.map(\.productId)), .int64Array(sorted.map(\.userId))]))
        }
        if !productIds.isEmpty {
            reads.append(productsRead(productIds, locked: alwaysLockInventory))
        }
        return reads
    }

    /// The products in id order (an index scan takes the array's ids in order), each with its
    /// inventory row, locked as it is read when `locked`.
    private func productsRead(_ ids: Set<Int64>, locked: Bool) -> PostgresStatement {
        PostgresStatement(
            """
            SELECT \(LedgerRows.productColumns) FROM products p
            CROSS JOIN LATERAL (SELECT * FROM inventory i WHERE i.product_id = p.product_id OFFSET 0\(locked ? " FOR UPDATE" : "")) i
            WHERE p.product_id = ANY($1::int8[]) ORDER BY p.product_id
            """,
            [.int64Array(ids.sorted())])
    }

    private static func products(_ rows: PostgresRows) throws -> [Int64: ProductState] {
        var products = [Int64: ProductState]()
        for product in try rows.map(LedgerRows.product) { products[product.productId] = product }
        return products
    }

    // MARK: Write

    /// Writes the batch's events (positions relative to the batch) and table changes and
    /// commits; returns the ledger head the batch was appended behind.
    private func write(
        _ appended: [(position: Int64, event: LedgerEvent, metadata: EventMetadata)], before: LedgerState,
        _ session: PostgresSession
    ) throws -> Int64 {
        var productVersions = before.products.mapValues(\.streamVersion)
        var events = EventColumns()
        var listings = [ProductListed]()
        var inventoryDelta = [Int64: (total: Int64, reserved: Int64)]()
        var purchaseDelta = [PurchaseKey: (quantity: Int64, limit: Int64)]()
        var limitByProduct = before.products.mapValues(\.listing.limitPerUser)
        var newReservations = ReservationColumns()
        var endings = EndingColumns()

        for (position, event, metadata) in appended {
            let streamVersion: Int64
            switch event {
            case .productListed(let listed):
                listings.append(listed)
                limitByProduct[listed.productId] = listed.limitPerUser
                productVersions[listed.productId] = 1
                streamVersion = 1
            case .stockAdded(let added):
                inventoryDelta[added.productId, default: (0, 0)].total += added.quantity
                productVersions[added.productId, default: 0] += 1
                streamVersion = productVersions[added.productId]!
            case .stockReserved(let reserved):
                inventoryDelta[reserved.productId, default: (0, 0)].reserved += reserved.quantity
                purchaseDelta[PurchaseKey(productId: reserved.productId, userId: reserved.userId), default: (0, limitByProduct[reserved.productId]!)].quantity += reserved.quantity
                newReservations.append(reserved, position: position)
                streamVersion = 1
            case .reservationReverted(let reverted):
                inventoryDelta[reverted.productId, default: (0, 0)].reserved -= reverted.quantity
                purchaseDelta[PurchaseKey(productId: reverted.productId, userId: reverted.userId), default: (0, limitByProduct[reverted.productId]!)].quantity -= reverted.quantity
                endings.append(id: reverted.reservationId, status: ReservationStatus(reverted.reason), position: position, orderId: nil, paymentRef: nil)
                streamVersion = 2
            case .orderConfirmed(let confirmed):
                endings.append(id: confirmed.reservationId, status: .confirmed, position: position, orderId: confirmed.orderId, paymentRef: confirmed.paymentRef)
                streamVersion = 2
            }
            events.append(event, position: position, streamVersion: streamVersion, metadata: metadata)
        }

        let purchaseKeys = purchaseDelta.keys.sorted()
        let existing = purchaseKeys.filter { before.purchases[$0] != nil }
        let fresh = purchaseKeys.filter { before.purchases[$0] == nil }

        // Phase 1 only read and locked rows; every change comes from here on, where this batch
        // holds (or now takes) its inventory rows and then the head. A batch holding those never
        // waits for one still in phase 1, so the two cannot deadlock. A listing inserts its
        // product here: a second listing of the same id waits for this batch, which waits for
        // nobody that waits for it.
        var writes = [PostgresStatement]()
        for listed in listings {
            writes.append(PostgresStatement(
                """
                INSERT INTO products (product_id, name, price_minor, currency, initial_stock, starts_at, ends_at, limit_per_user, reservation_ttl_seconds, stream_version)
                VALUES ($1, $2, $3, $4, $5, ledger_time($6), ledger_time($7), $8, $9, 1)
                """,
                [.int64(listed.productId), .text(listed.name), .int64(listed.priceMinor), .text(listed.currency), .int64(listed.stock),
                 .int64(listed.startsAt.epochMs), .int64(listed.endsAt.epochMs), .int64(listed.limitPerUser), .int64(listed.reservationTTLSeconds)]))
            writes.append(PostgresStatement(
                "INSERT INTO inventory (product_id, total, reserved) VALUES ($1, $2, 0)", [.int64(listed.productId), .int64(listed.stock)]))
        }
        // A product listed in this batch has its row at version 1 already.
        let stockVersions = productVersions.filter { id, version in version != (before.products[id]?.streamVersion ?? 1) }
        if !stockVersions.isEmpty {
            let ids = stockVersions.keys.sorted()
            writes.append(PostgresStatement(
                "UPDATE products p SET stream_version = v.version FROM unnest($1::int8[], $2::int8[]) AS v(product_id, version) WHERE p.product_id = v.product_id",
                [.int64Array(ids), .int64Array(ids.map { stockVersions[$0]! })], plansEachRun: true))
        }

        // A batch touches a product or two: looking each delta up in the arrays costs nothing, and
        // the ids' index scan is the plan whatever the table held when it was made.
        let inventoryIds = inventoryDelta.keys.sorted()
        if !inventoryIds.isEmpty {
            writes.append(PostgresStatement(
                """
                WITH updated AS (
                    UPDATE inventory i
                    SET total = i.total + $2[array_position($1, i.product_id)], reserved = i.reserved + $3[array_position($1, i.product_id)]
                    WHERE i.product_id = ANY($1::int8[])
                    RETURNING 1
                )
                SELECT ledger_expect_rows((SELECT count(*) FROM updated), cardinality($1::int8[]), 'inventory rows updated')
                """,
                [.int64Array(inventoryIds), .int64Array(inventoryIds.map { inventoryDelta[$0]!.total }),
                 .int64Array(inventoryIds.map { inventoryDelta[$0]!.reserved })]))
        }

        // Purchase rows that existed at the load are locked since then and change by their
        // delta, possibly negative (a revert). New rows go in with the append below; one that a
        // batch committed since our load is not overwritten there (DO NOTHING, which also never
        // waits for a batch that merely locked it): the count falls short and the batch is decided
        // again, locked, seeing it. CHECKs apply to a proposed insert too, which is why negative
        // deltas never take the insert path. Up to a batch of rows: its join is planned per run.
        if !existing.isEmpty {
            writes.append(PostgresStatement(
                """
                WITH updated AS (
                    UPDATE purchases pu SET quantity = pu.quantity + d.quantity
                    FROM unnest($1::int8[], $2::int8[], $3::int8[]) AS d(product_id, user_id, quantity)
                    WHERE pu.product_id = d.product_id AND pu.user_id = d.user_id
                    RETURNING 1
                )
                SELECT ledger_expect_rows((SELECT count(*) FROM updated), cardinality($1::int8[]), 'purchase rows updated')
                """,
                [.int64Array(existing.map(\.productId)), .int64Array(existing.map(\.userId)),
                 .int64Array(existing.map { purchaseDelta[$0]!.quantity })], plansEachRun: true))
        }

        // The head row lock, held to COMMIT, makes positions follow commit order (invariant 6).
        // One statement: every part reads the head's new value, none waits on another batch.
        let appendAt = writes.count
        writes.append(PostgresStatement(Self.appendStatement, [.int64(Int64(appended.count))] + events.parameters + newReservations.parameters + [
            .int64Array(fresh.map(\.productId)), .int64Array(fresh.map(\.userId)),
            .int64Array(fresh.map { purchaseDelta[$0]!.quantity }), .int64Array(fresh.map { purchaseDelta[$0]!.limit }),
        ]))

        // Apart, because the parts of one statement do not see each other's rows and a
        // reservation may end in the batch that made it. The head row already holds this
        // batch's last position.
        if !endings.ids.isEmpty {
            writes.append(PostgresStatement(
                """
                WITH ended AS (
                    UPDATE reservations r SET status = e.status, ended_position = h.position - $1 + e.position, order_id = e.order_id::uuid, payment_ref = e.payment_ref
                    FROM ledger_head h, unnest($2::text[], $3::text[], $4::int8[], $5::text[], $6::text[]) AS e(id, status, position, order_id, payment_ref)
                    WHERE h.id = 1 AND r.reservation_id = e.id::uuid AND r.status = 'reserved'
                    RETURNING 1
                )
                SELECT ledger_expect_rows((SELECT count(*) FROM ended), cardinality($2::text[]), 'reservations ended')
                """, [.int64(Int64(appended.count))] + endings.parameters, plansEachRun: true))
        }
        writes.append(PostgresStatement("COMMIT"))

        let results = try session.pipeline(writes)
        try PostgresSession.expectCommitted(results[results.count - 1])
        return try results[appendAt][0]["base"].int64()
    }

    /// $1 events appended; $2…$11 the event columns, $12…$19 the new reservations, $20…$23
    /// the new purchase rows; positions in the arrays count from 1 of this batch. Every part
    /// reads `head`, so none runs before the head's row lock is held.
    private static let appendStatement = """
        WITH head AS (
            UPDATE ledger_head SET position = position + $1 WHERE id = 1 RETURNING position - $1 AS base
        ), appended AS (
            INSERT INTO events (position, stream_id, stream_version, event_id, type, schema_version, data, metadata, product_id, user_id)
            SELECT head.base + e.position, e.stream_id, e.stream_version, e.event_id::uuid, e.type, e.schema_version, e.data::jsonb, e.metadata::jsonb, e.product_id, e.user_id
            FROM head, unnest($2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::int8[], $8::text[], $9::text[], $10::int8[], $11::int8[])
                AS e(position, stream_id, stream_version, event_id, type, schema_version, data, metadata, product_id, user_id)
        ), reserved AS (
            INSERT INTO reservations (reservation_id, product_id, user_id, quantity, unit_price_minor, expires_at, idempotency_key, status, reserved_position)
            SELECT n.id::uuid, n.product_id, n.user_id, n.quantity, n.price, ledger_time(n.expires_ms), n.key, 'reserved', head.base + n.position
            FROM head, unnest($12::text[], $13::int8[], $14::int8[], $15::int8[], $16::int8[], $17::int8[], $18::text[], $19::int8[])
                AS n(id, product_id, user_id, quantity, price, expires_ms, key, position)
        ), bought AS (
            INSERT INTO purchases (product_id, user_id, quantity, limit_per_user)
            SELECT b.product_id, b.user_id, b.quantity, b.limit_per_user
            FROM head, unnest($20::int8[], $21::int8[], $22::int8[], $23::int8[]) AS b(product_id, user_id, quantity, limit_per_user)
            ON CONFLICT (product_id, user_id) DO NOTHING
            RETURNING 1
        )
        SELECT base, ledger_expect_rows((SELECT count(*) FROM bought), cardinality($20::int8[]), 'purchase rows inserted') FROM head
        """
}

/// Column arrays for one multi-row INSERT INTO events.
private struct EventColumns {
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

private struct ReservationColumns {
    var ids: [String?] = [], products: [Int64?] = [], users: [Int64?] = [], quantities: [Int64?] = []
    var prices: [Int64?] = [], expiries: [Int64?] = [], keys: [String?] = [], positions: [Int64?] = []

    mutating func append(_ reserved: StockReserved, position: Int64) {
        ids.append(reserved.reservationId)
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

private struct EndingColumns {
    var ids: [String?] = [], statuses: [String?] = [], positions: [Int64?] = [], orderIds: [String?] = [], paymentRefs: [String?] = []

    mutating func append(id: UUIDString, status: ReservationStatus, position: Int64, orderId: UUIDString?, paymentRef: String?) {
        ids.append(id)
        statuses.append(status.rawValue)
        positions.append(position)
        orderIds.append(orderId)
        paymentRefs.append(paymentRef)
    }

    var parameters: [PostgresValue] {
        [.textArray(ids), .textArray(statuses), .int64Array(positions), .textArray(orderIds), .textArray(paymentRefs)]
    }
}
