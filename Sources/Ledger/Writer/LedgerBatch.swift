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
            // A failed pipeline leaves the transaction aborted (or, with a lost connection, gone).
            session.rollback(after: error)
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
        var reservedHere = Set<ReservationID>(), endedHere = Set<ReservationID>()
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
        var reservationIds = Set<ReservationID>()
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
                [.textArray(reservationIds.sorted().map(\.text))]))
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
    ///
    /// Phase 1 only read and locked rows; every change comes from here on, where this batch
    /// holds (or now takes) its inventory rows and then the head. A batch holding those never
    /// waits for one still in phase 1, so the two cannot deadlock. A listing inserts its
    /// product here: a second listing of the same id waits for this batch, which waits for
    /// nobody that waits for it.
    private func write(
        _ appended: [(position: Int64, event: LedgerEvent, metadata: EventMetadata)], before: LedgerState,
        _ session: PostgresSession
    ) throws -> Int64 {
        let changes = BatchChanges(appended, before: before)
        var writes = changes.listings.flatMap(BatchStatements.list)
        if let versions = BatchStatements.setStreamVersions(changes) { writes.append(versions) }
        if let inventory = BatchStatements.applyInventoryDeltas(changes) { writes.append(inventory) }
        if let purchases = BatchStatements.applyPurchaseDeltas(changes) { writes.append(purchases) }
        let appendAt = writes.count
        writes.append(BatchStatements.append(changes))
        if let endings = BatchStatements.endReservations(changes) { writes.append(endings) }
        writes.append(PostgresStatement("COMMIT"))

        let results = try session.pipeline(writes)
        try PostgresSession.expectCommitted(results[results.count - 1])
        return try results[appendAt][0][BatchStatements.appendedBaseColumn].int64()
    }
}
