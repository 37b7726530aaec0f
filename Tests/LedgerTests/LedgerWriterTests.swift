import Foundation
import Ledger
import MetricsTestKit
import TestSupport
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(3))) struct LedgerWriterTests {
    /// How the writer runs in the 200-on-50 race.
    enum RaceSetup: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case oneConnection, twoConnections
        /// No headroom and batches of 40: two batches decide unlocked against the same 50 units
        /// at once, the inventory CHECK must refuse one, which is then decided again locked.
        case twoConnectionsDecidingUnlocked

        var testDescription: String { rawValue }
        var writerConnections: Int { self == .oneConnection ? 1 : 2 }
        var limits: Limits {
            var limits = Limits().withoutShedding()  // 200 queued at once on purpose
            if self == .twoConnectionsDecidingUnlocked {
                limits.writerUnlockedStockHeadroomUnits = 0
                limits.writerMaxBatchSize = 40
                limits.writerBatchDelayMs = 5
            }
            return limits
        }
    }

    /// The writer's session plans each statement once (`cachedKeyLookups`), here on an empty
    /// ledger where a scan costs nothing, first as migrated, then vacuumed and analysed (which
    /// once made a full index scan of the purchases the cheapest plan): every plan must still
    /// reach its rows through an index condition, never read a table or a whole index.
    @Test func theWritersCachedPlansLookRowsUpByKeyOnAnEmptyLedger() async throws {
        try await LedgerHarness.run { ledger in
            // Every kind of statement the writer sends — a listing, stock, reservations (a new and
            // an existing purchase row, idempotency keys, a retry), a confirm, a cancel, an expiry —
            // so that every one it caches is checked (those marked `plansEachRun` are not cached).
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 10)))
            _ = try await ledger.submit(.addStock(productId: 1, quantity: 5))
            var ids = [ReservationID]()
            for key in ["a", "b", "c"] {
                ids.append(try #require(try await ledger.reserve(productId: 1, userId: 1, key: key).reservation).reservationId)
            }
            #expect(try await ledger.reserve(productId: 1, userId: 1, key: "a").reservation?.reservationId == ids[0])
            _ = try await ledger.submit(.confirm(reservationId: ids[0], userId: 1, orderId: UUID.v7().lowercased, paymentRef: "pay"))
            _ = try await ledger.submit(.cancel(reservationId: ids[1], userId: 1))
            _ = try await ledger.submit(.expire(reservationId: ids[2]))
            #expect(try await ledger.ledgerIsConsistent() == [])

            for vacuumed in [false, true] {
                if vacuumed {
                    // Analysing invalidates the cached plans: the next run of each is planned anew.
                    try await ledger.writerConnections[0].withSession { session in
                        for table in ["events", "reservations", "purchases", "inventory", "products"] {
                            _ = try session.query("DELETE FROM \(table)")
                        }
                        _ = try session.query("VACUUM (ANALYZE)")
                    }
                }
                let plans = try await ledger.writerConnections[0].withSession { session in
                    try session.query("SELECT name, statement, cardinality(parameter_types)::int8 AS n FROM pg_prepared_statements").map { row in
                        let nulls = Array(repeating: "NULL", count: Int(try row["n"].int64())).joined(separator: ", ")
                        let plan = try session.query("EXPLAIN (COSTS OFF) EXECUTE \(try row["name"].string())(\(nulls))").map { try $0[0].string() }
                        return (statement: try row["statement"].string(), plan: plan)
                    }
                }
                for table in ["purchases pu", "inventory i", "reservations r WHERE r.reservation_id", "reservations r WHERE r.user_id", "INSERT INTO events"] {
                    #expect(plans.contains { $0.statement.contains(table) }, "no cached statement reads \(table)")
                }
                for (statement, plan) in plans {
                    let scans = plan.indices.filter { plan[$0].contains(" Scan using ") }
                    let unkeyed = scans.filter { $0 + 1 == plan.count || !plan[$0 + 1].contains("Index Cond:") }
                    let forbidden = plan.filter { ["Seq Scan", "Bitmap", "Hash Join", "Merge Join"].contains(where: $0.contains) }
                    #expect(unkeyed.isEmpty && forbidden.isEmpty, "vacuumed: \(vacuumed)\n\(statement)\n\(plan.joined(separator: "\n"))")
                }
            }
        }
    }

    /// With two writer connections two batches are in flight at once; the ledger head lock
    /// must still keep them from overselling or reordering, whether they decide locked or not.
    @Test(arguments: RaceSetup.allCases)
    func twoHundredConcurrentReservesOnFiftyUnitsSellExactlyFifty(setup: RaceSetup) async throws {
        try await LedgerHarness.run(limits: setup.limits, writerConnections: setup.writerConnections) { ledger in
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 50, limitPerUser: 2)))
            let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
                for request in 0..<200 {
                    // Users 1…100 twice each: the per-user limit is decided in the same batches.
                    group.addTask { try await ledger.reserve(productId: 1, userId: Int64(request % 100 + 1)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0.reservation != nil }.count == 50)
            #expect(results.filter { $0.rejection?.code == .soldOut }.count == 150)
            let product = try #require(try await ledger.reader.product(1))
            #expect(product.reservedUnits == 50)
            #expect(product.available == 0)
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    /// Two connections, batches on both sides of the unlocked-stock headroom at once, the same
    /// users and idempotency keys in concurrent batches, reservations ended while others are made:
    /// every command is answered, nothing is oversold, and PostgreSQL detected no deadlock (a
    /// retried deadlock would otherwise pass unseen).
    @Test func mixedConcurrentBatchesNeverDeadlock() async throws {
        var limits = Limits().withoutShedding()
        limits.writerUnlockedStockHeadroomUnits = 300
        limits.writerMaxBatchSize = 25
        try await LedgerHarness.run(limits: limits, writerConnections: 2) { ledger in try await Self.expectingNoDeadlock(ledger) {
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 11, stock: 600, limitPerUser: 3)))
            let outcomes = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<1_200 {
                    group.addTask {
                        let user = Int64(task % 30 + 1)
                        let result = try await ledger.reserve(productId: 11, userId: user, key: "attempt-\(task % 45)")
                        guard case .reservation(let reservation, duplicate: false) = result else { return 0 }
                        switch task % 3 {
                        case 0: _ = try await ledger.submit(.cancel(reservationId: reservation.reservationId, userId: user))
                        case 1: _ = try await ledger.submit(.confirm(
                            reservationId: reservation.reservationId, userId: user, orderId: UUID.v7().lowercased, paymentRef: "pay-\(task)"))
                        default: break
                        }
                        return 1
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(outcomes > 0)
            let product = try #require(try await ledger.reader.product(11))
            #expect(product.reservedUnits <= 600)
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
        } }
    }

    /// Four batches deciding at once on the same eight users' purchase rows, which each load
    /// locks in one pass: in key order the batches queue; in any other order they deadlock.
    @Test func concurrentBatchesOnTheSameUsersLockPurchaseRowsInOneOrder() async throws {
        var limits = Limits().withoutShedding()
        limits.writerMaxBatchSize = 16
        try await LedgerHarness.run(limits: limits, writerConnections: 4) { ledger in try await Self.expectingNoDeadlock(ledger) {
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 12, stock: 100_000, limitPerUser: 1_000)))
            let reserved = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<3_000 {
                    group.addTask { try await ledger.reserve(productId: 12, userId: Int64(task % 8 + 1)).reservation == nil ? 0 : 1 }
                }
                return try await group.reduce(0, +)
            }
            #expect(reserved == 3_000)
            #expect(try await ledger.reader.product(12)?.reservedUnits == 3_000)
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
        } }
    }

    /// Runs `body`, then checks that PostgreSQL detected no deadlock meanwhile (the writer would
    /// retry the batch, so the answers alone would not show one).
    private static func expectingNoDeadlock(_ ledger: LedgerHarness, _ body: () async throws -> Void) async throws {
        let observer = try await PostgresConnection.connect(url: ledger.databaseURL, name: "deadlock-observer")
        func deadlocks() async throws -> Int64 {
            _ = try await observer.query("SELECT pg_stat_clear_snapshot()")
            return try await observer.query("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")[0]["deadlocks"].int64()
        }
        let before = try await deadlocks()
        try await body()
        // Backends report their counters when idle for a second; wait for that, then look.
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(try await deadlocks() == before)
        await observer.close()
    }

    @Test func oneUserFiringTwentyConcurrentReservesGetsExactlyTheLimit() async throws {
        try await LedgerHarness.run { ledger in
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 7, stock: 1_000, limitPerUser: 2)))
            let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
                for _ in 1...20 {
                    group.addTask { try await ledger.reserve(productId: 7, userId: 42) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter { $0.reservation != nil }.count == 2)
            #expect(results.filter { $0.rejection?.code == .limitExceeded }.count == 18)
            // A quantity that alone exceeds what is left of the quota is refused too.
            #expect(try await ledger.reserve(productId: 7, userId: 43, quantity: 3).rejection?.code == .limitExceeded)
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    @Test func theSameIdempotencyKeyTwentyTimesAtOnceMakesOneReservation() async throws {
        try await LedgerHarness.run { ledger in
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 3, stock: 10)))
            let results = try await withThrowingTaskGroup(of: CommandResult.self) { group in
                for _ in 1...20 {
                    group.addTask { try await ledger.reserve(productId: 3, userId: 9, key: "order-attempt-1") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let reservations = results.compactMap(\.reservation)
            #expect(reservations.count == 20)
            #expect(Set(reservations).count == 1, "20 identical answers")
            #expect(results.filter { if case .reservation(_, duplicate: false) = $0 { true } else { false } }.count == 1)
            #expect(try await ledger.reader.product(3)?.reservedUnits == 1)
            #expect(try await ledger.reader.events(userId: 9, limit: 100).count == 1)
            // The key answers with the original even after the reservation ended.
            let original = reservations[0]
            _ = try await ledger.submit(.cancel(reservationId: original.reservationId, userId: 9))
            let again = try await ledger.reserve(productId: 3, userId: 9, key: "order-attempt-1")
            #expect(again.reservation?.reservationId == original.reservationId)
            #expect(again.reservation?.status == .cancelled)
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    @Test func confirmRacingExpiryEndsEachReservationExactlyOnce() async throws {
        try await LedgerHarness.run { ledger in
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 5, stock: 100, ttlSeconds: 1)))
            var ids = [ReservationID]()
            for user in 1...20 {
                ids.append(try #require(try await ledger.reserve(productId: 5, userId: Int64(user)).reservation).reservationId)
            }
            try await Task.sleep(for: .milliseconds(1_100))
            let outcomes = try await withThrowingTaskGroup(of: (String, ReservationID, CommandResult).self) { group in
                for id in ids {
                    group.addTask {
                        ("confirm", id, try await ledger.submit(.confirm(reservationId: id, userId: nil, orderId: UUID.v7().lowercased, paymentRef: "pay-\(id)")))
                    }
                    group.addTask { ("expire", id, try await ledger.submit(.expire(reservationId: id))) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for id in ids {
                let pair = outcomes.filter { $0.1 == id }
                #expect(pair.filter { $0.2.reservation != nil }.count == 1, "exactly one of confirm and expire wins")
                #expect(pair.filter { $0.2.rejection?.code == .alreadyEnded }.count == 1, "the other is told it already ended")
                let stream = try await ledger.reader.stream("reservation-\(id)")
                #expect(stream.map(\.streamVersion) == [1, 2])
            }
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    @Test func salesWindowProductsAndOwnershipAreEnforced() async throws {
        try await LedgerHarness.run { ledger in
            let now = Timestamp.now()
            let upcoming = LedgerHarness.listing(productId: 10, stock: 5, startsAt: now.adding(seconds: 3600), endsAt: now.adding(seconds: 7200))
            let over = LedgerHarness.listing(productId: 11, stock: 5, startsAt: now.adding(seconds: -7200), endsAt: now.adding(seconds: -3600))
            let open = LedgerHarness.listing(productId: 12, stock: 5)
            for listing in [upcoming, over, open] {
                guard case .product(_, created: true) = try await ledger.submit(.listProduct(listing)) else {
                    Issue.record("listing \(listing.productId) was not created")
                    return
                }
            }
            guard case .product(_, created: false) = try await ledger.submit(.listProduct(open)) else {
                Issue.record("the same listing again must be accepted unchanged")
                return
            }
            var changed = open
            changed.priceMinor += 1
            #expect(try await ledger.submit(.listProduct(changed)).rejection?.code == .productConflict)
            #expect(try await ledger.reserve(productId: 10, userId: 1).rejection?.code == .notStarted)
            #expect(try await ledger.reserve(productId: 11, userId: 1).rejection?.code == .ended)
            #expect(try await ledger.reserve(productId: 99, userId: 1).rejection?.code == .unknownProduct)
            #expect(try await ledger.reserve(productId: 12, userId: 1, quantity: 0).rejection?.code == .invalid)
            #expect(try await ledger.reserve(productId: 12, userId: 1, key: "bad key with spaces").rejection?.code == .invalid)

            let reservation = try #require(try await ledger.reserve(productId: 12, userId: 1, quantity: 2).reservation)
            #expect(reservation.unitPriceMinor == 1999)
            #expect(try await ledger.submit(.cancel(reservationId: reservation.reservationId, userId: 2)).rejection?.code == .unknownReservation)
            #expect(try await ledger.submit(.expire(reservationId: reservation.reservationId)).rejection?.code == .invalid, "not due yet")
            #expect(try await ledger.submit(.cancel(reservationId: reservation.reservationId, userId: 1)).reservation?.status == .cancelled)
            #expect(try await ledger.submit(.cancel(reservationId: reservation.reservationId, userId: 1)).rejection?.code == .alreadyEnded)
            #expect(try await ledger.reader.product(12)?.available == 5, "a cancel gives the units back")

            _ = try await ledger.submit(.addStock(productId: 12, quantity: 3))
            #expect(try await ledger.reader.product(12)?.totalStock == 8)
            #expect(try await ledger.submit(.addStock(productId: 98, quantity: 3)).rejection?.code == .unknownProduct)
            #expect(try await ledger.reader.stream("product-12").map(\.type) == ["ProductListed", "StockAdded"])
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
        }
    }

    @Test(arguments: [1, 2])
    func aTailingReaderNeverSeesPositionsGoBackOrSkip(writerConnections: Int) async throws {
        try await LedgerHarness.run(writerConnections: writerConnections) { ledger in
            for product in 1...4 {
                _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: Int64(product), stock: 1_000_000, limitPerUser: 1_000)))
            }
            let submitted = 2_000
            let seen = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for submitter in 0..<8 {
                    group.addTask {
                        for index in 0..<(submitted / 8) {
                            _ = try await ledger.reserve(productId: Int64(index % 4 + 1), userId: Int64(submitter * 1000 + index % 500 + 1))
                        }
                        return []
                    }
                }
                group.addTask {
                    var positions = [Int64]()
                    var after: Int64 = 0
                    while positions.count < submitted + 4 {
                        let page = try await ledger.reader.events(after: after, limit: 500)
                        positions += page.map(\.position)
                        after = page.last?.position ?? after
                    }
                    return positions
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(seen == Array(1...Int64(submitted + 4)), "every position once, in order, none skipped")
        }
    }

    /// Group commit: commands that arrive while the first one waits out the batch delay leave
    /// in its transaction, not in one of their own. The writer's metrics say so too.
    @Test func commandsArrivingWithinTheBatchDelayShareTheFirstOnesBatch() async throws {
        var limits = Limits()
        limits.writerBatchDelayMs = 400
        try await Self.withMigratedConnection { connection in
            let sizes = BatchSizes()
            let metrics = TestMetrics()
            let writer = LedgerWriter(connection: connection, limits: limits, metrics: metrics, onBatch: { sizes.append($0.size) })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await writer.run() }
                let started = ContinuousClock.now
                try await withThrowingTaskGroup(of: Void.self) { submitters in
                    submitters.addTask { _ = try await writer.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 10)), metadata: LedgerHarness.testMetadata) }
                    try await Task.sleep(for: .milliseconds(50))
                    for id in 2...10 {
                        submitters.addTask {
                            _ = try await writer.submit(.listProduct(LedgerHarness.listing(productId: Int64(id), stock: 10)), metadata: LedgerHarness.testMetadata)
                        }
                    }
                    try await submitters.waitForAll()
                }
                #expect(ContinuousClock.now - started >= .milliseconds(400), "the first command waited the delay")
                // The batch is accounted for after its commands are answered.
                #expect(try await eventually(timeout: .seconds(10)) { !sizes.all.isEmpty })
                #expect(sizes.all == [10], "one transaction for the ten")
                #expect(try metrics.expectCounter("ledger_writer_batches_total").totalValue == 1)
                #expect(try metrics.expectRecorder("ledger_writer_batch_commands").values == [10])
                // The delay runs from the first command's arrival, so the part of it the queue
                // wait did not use (all of it on an idle machine; a busy one may start the writer
                // late) is in the batch's duration and not in its transaction's.
                let waitNs = try #require(try metrics.expectTimer("ledger_writer_queue_wait_seconds").values.first)
                let batchNs = try #require(try metrics.expectTimer("ledger_writer_batch_duration_seconds").values.first)
                let transactionNs = try #require(try metrics.expectTimer("ledger_writer_transaction_duration_seconds").values.first)
                #expect(waitNs + batchNs >= 400_000_000, "the first command's wait and batch span the delay")
                #expect(transactionNs > 0, "the transaction is timed")
                #expect(batchNs - transactionNs >= 399_000_000 - waitNs, "the transaction excludes the delay (1 ms for rounding)")
                writer.shutdown()
                try await group.waitForAll()
            }
        }
    }

    @Test func aFullQueueAnswersOverloadedInsteadOfGrowing() async throws {
        var limits = Limits()
        limits.writerMaxQueueDepth = 5
        try await Self.withMigratedConnection { connection in
            let metrics = TestMetrics()
            let writer = LedgerWriter(connection: connection, limits: limits, metrics: metrics)
            let listing = LedgerHarness.listing(productId: 1, stock: 10)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<5 {
                    group.addTask { _ = try await writer.submit(.listProduct(listing), metadata: LedgerHarness.testMetadata) }
                }
                // The writer is not running yet, so those five wait in the queue.
                while writer.queueDepth < 5 { try await Task.sleep(for: .milliseconds(5)) }
                let error = await #expect(throws: LedgerError.self) {
                    _ = try await writer.submit(.listProduct(listing), metadata: LedgerHarness.testMetadata)
                }
                #expect(error?.code == .overloaded)
                #expect(error?.isRetriable == true)
                #expect(writer.queueDepth == 5, "the refused command did not grow the queue")
                group.addTask { try await writer.run() }
                try await Task.sleep(for: .milliseconds(500))
                writer.shutdown()
                try await group.waitForAll()
            }
            await #expect(throws: LedgerError.self) { _ = try await writer.submit(.listProduct(listing), metadata: LedgerHarness.testMetadata) }
            #expect(try metrics.expectCounter("ledger_writer_failed_commands_total", [("code", "overloaded")]).totalValue == 1)
            #expect(try metrics.expectCounter("ledger_writer_failed_commands_total", [("code", "shuttingDown")]).totalValue == 1)
            #expect(try metrics.expectRecorder("ledger_writer_batch_commands").values.reduce(0, +) == 5, "the five were committed")
        }
    }

    /// A sibling service that fails cancels the service group instead of shutting it down
    /// gracefully: the writer must still answer what it holds and end, or `ledger serve` hangs.
    @Test func aCancelledWriterCommitsWhatItHoldsAndEnds() async throws {
        try await TestServices.withTemporaryDatabase { url in
            try await LedgerHarness.migrate(url)
            let connection = try await PostgresConnection.connect(url: url)
            let writer = LedgerWriter(connection: connection)
            try await withThrowingTaskGroup(of: CommandResult?.self) { group in
                for id in 1...5 {
                    group.addTask {
                        try await writer.submit(.listProduct(LedgerHarness.listing(productId: Int64(id), stock: 10)), metadata: LedgerHarness.testMetadata)
                    }
                }
                while writer.queueDepth < 5 { try await Task.sleep(for: .milliseconds(5)) }
                group.addTask {
                    try await withThrowingTaskGroup(of: Void.self) { service in
                        service.addTask { try await writer.run() }
                        service.cancelAll()
                        try await service.waitForAll()
                    }
                    return nil
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(20))
                    Issue.record("the cancelled writer did not end within 20 s")
                    return nil
                }
                var listed = 0
                for _ in 0..<6 {
                    guard let result = try await group.next() else { break }
                    if case .product(_, created: true) = result { listed += 1 }
                }
                #expect(listed == 5, "every queued command was committed and answered")
                group.cancelAll()
            }
            await #expect(throws: LedgerError.self) { _ = try await writer.submit(.listProduct(LedgerHarness.listing(productId: 9, stock: 1)), metadata: LedgerHarness.testMetadata) }
            await connection.close()
        }
    }

    @Test func twoExpiryWorkersRevertEachDueReservationOnce() async throws {
        try await LedgerHarness.run { ledger in
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 4, stock: 30, ttlSeconds: 1)))
            for user in 1...30 {
                _ = try #require(try await ledger.reserve(productId: 4, userId: Int64(user)).reservation)
            }
            #expect(try await ledger.reader.product(4)?.available == 0)
            try await Task.sleep(for: .milliseconds(1_100))
            // A second worker with its own writer and connections, as a second instance would have.
            let writerConnection = try await PostgresConnection.connect(url: ledger.databaseURL)
            let readerConnection = try await PostgresConnection.connect(url: ledger.databaseURL)
            let otherWriter = LedgerWriter(connection: writerConnection)
            let expired = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask { try await otherWriter.run(); return 0 }
                group.addTask { try await ExpiryWorker(reader: ledger.reader, writer: ledger.writer).pass() }
                group.addTask {
                    defer { otherWriter.shutdown() }
                    return try await ExpiryWorker(reader: LedgerReader(connection: readerConnection), writer: otherWriter).pass()
                }
                return try await group.reduce(0, +)
            }
            #expect(expired == 30)
            let reverts = try await ledger.reader.events(productId: 4, limit: 1000).filter { $0.type == "ReservationReverted" }
            #expect(reverts.count == 30)
            #expect(Set(reverts.map(\.streamId)).count == 30)
            #expect(try await ledger.reader.product(4)?.available == 30, "every unit is back on sale")
            #expect(try await ledger.reader.dueReservations(at: .now(), limit: 100).isEmpty)
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
            await writerConnection.close()
            await readerConnection.close()
        }
    }

    /// A connection to a fresh, migrated database, closed after `body`.
    private static func withMigratedConnection(_ body: (PostgresConnection) async throws -> Void) async throws {
        try await TestServices.withTemporaryDatabase { url in
            try await LedgerHarness.migrate(url)
            let connection = try await PostgresConnection.connect(url: url)
            do {
                try await body(connection)
            } catch {
                await connection.close()
                throw error
            }
            await connection.close()
        }
    }
}

private final class BatchSizes: Sendable {
    private let sizes = Mutex([Int]())
    var all: [Int] { sizes.withLock { $0 } }
    func append(_ size: Int) { sizes.withLock { $0.append(size) } }
}
