import Foundation
@testable import Ledger
import MetricsTestKit
import Synchronization
import TestSupport
import Testing

/// One client's bad data never fails its neighbours: validation refuses what PostgreSQL would,
/// and a refusal that slips through splits the batch until the command stands alone.
@Suite(.timeLimit(.minutes(4))) struct CommandIsolationTests {
    /// Why validation must refuse NUL: PostgreSQL refuses it in the event's `jsonb` (and a
    /// refusal inside a group commit is the whole batch's), so the ledger never sends it.
    @Test func postgresRefusesNULInEventJSONSoTheLedgerNeverSendsIt() async throws {
        try await LedgerHarness.run { ledger in
            let event = EventCodec.encode(.orderConfirmed(OrderConfirmed(
                reservationId: ReservationID.v7(), productId: 1, userId: 7, orderId: UUID.v7().lowercased, paymentRef: "pay\u{0}ref")))
            let connection = try await PostgresConnection.connect(url: ledger.databaseURL)
            let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT $1::jsonb", [.text(event)]) }
            #expect(error?.sqlState?.errorClass == SQLState.dataExceptionClass, "\(String(describing: error))")
            #expect(error.map(LedgerWriter.isDataRefusal) == true)
            await connection.close()

            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 5)))
            let reserved = try await ledger.reserve(productId: 1, userId: 7)
            guard case .reservation(let reservation, _) = reserved else { Issue.record("\(reserved)"); return }
            let result = try await ledger.submit(
                .confirm(reservationId: reservation.reservationId, userId: nil, orderId: UUID.v7().lowercased, paymentRef: "pay\u{0}ref"))
            #expect(result.rejection?.code == .invalid)
            #expect(try await ledger.reader.reservation(reservation.reservationId)?.status == .reserved)
        }
    }

    /// A value validation let through (here a limit set past what the index holds) fails only
    /// its own command: its forty neighbours in the same batch commit.
    @Test func aCommandTheDatabaseRefusesFailsAloneAndItsBatchCommits() async throws {
        var limits = Limits()
        limits.maxIdempotencyKeyBytes = 8_000
        limits.writerBatchDelayMs = 300
        let metrics = TestMetrics()
        try await LedgerHarness.withWriterConnection(limits: limits) { connection, reader in
            let sizes = Mutex<[Int]>([])
            let writer = LedgerWriter(connection: connection, limits: limits, metrics: metrics, onBatch: { report in sizes.withLock { $0.append(report.size) } })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await writer.run() }
                _ = try await writer.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 100)), metadata: LedgerHarness.testMetadata)
                // Incompressible: an index entry of 6,000 bytes is past btree's ~2,700.
                let poisonKey = String((0..<6_000).map { _ in Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E))) })
                let results = try await withThrowingTaskGroup(of: (Int64, CommandResult).self) { submitters in
                    for user in Int64(1)...41 {
                        submitters.addTask {
                            let key = user == 21 ? poisonKey : "key-\(user)"
                            let command = LedgerCommand.reserve(.init(
                                reservationId: ReservationID.v7(), productId: 1, userId: user, quantity: 1, idempotencyKey: key))
                            return (user, try await writer.submit(command, metadata: LedgerHarness.testMetadata))
                        }
                    }
                    return try await submitters.reduce(into: [Int64: CommandResult]()) { $0[$1.0] = $1.1 }
                }
                #expect(results[21]?.rejection?.code == .invalid, "\(String(describing: results[21]))")
                for user in Int64(1)...41 where user != 21 {
                    guard case .reservation(let state, duplicate: false)? = results[user] else {
                        Issue.record("user \(user): \(String(describing: results[user]))")
                        continue
                    }
                    #expect(state.userId == user && state.status == .reserved)
                }
                #expect(try await reader.product(1)?.reservedUnits == 40)
                #expect(try metrics.expectCounter("ledger_writer_refused_data_commands_total").totalValue == 1)
                writer.shutdown()
                try await group.waitForAll()
            }
            // Reported once the batch answered its callers, so read once the writer ended.
            #expect(sizes.withLock { $0.contains(41) }, "the poison travelled in the neighbours' batch: \(sizes.withLock { $0 })")
        }
    }

    /// Random text (all of Unicode, controls and NUL included, and lengths past every limit)
    /// in every text field of every command, mixed with valid commands in concurrent batches:
    /// every valid command commits, every bad one is rejected `invalid` (never a failure of
    /// the writer), and the ledger stays consistent. Keys past what PostgreSQL's index holds
    /// pass validation here on purpose, so the writer's split is exercised too.
    @Test func randomTextInEveryFieldNeverFailsAValidNeighbour() async throws {
        var limits = Limits()
        limits.maxIdempotencyKeyBytes = 4_000
        limits.writerBatchDelayMs = 20
        try await LedgerHarness.run(limits: limits) { ledger in
            var random = SystemRandomNumberGenerator()
            var nextProduct: Int64 = 1
            var nextUser: Int64 = 1
            for round in 0..<12 {
                let saleId = nextProduct
                nextProduct += 1
                _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: saleId, stock: 1_000, limitPerUser: 1)))
                // Reservations of this sale, to confirm with random payment references.
                var open = [ReservationID]()
                for _ in 0..<6 {
                    if case .reservation(let state, _) = try await ledger.reserve(productId: saleId, userId: nextUser) { open.append(state.reservationId) }
                    nextUser += 1
                }
                var cases = [(command: LedgerCommand, metadata: EventMetadata, expected: Expected)]()
                for index in 0..<40 {
                    let text = RandomText.next(using: &random)
                    let field = index % 5
                    var metadata = LedgerHarness.testMetadata
                    let command: LedgerCommand
                    switch field {
                    case 0:
                        var listing = LedgerHarness.listing(productId: nextProduct, stock: 10)
                        nextProduct += 1
                        listing.name = text
                        command = .listProduct(listing)
                    case 1:
                        var listing = LedgerHarness.listing(productId: nextProduct, stock: 10)
                        nextProduct += 1
                        listing.currency = text
                        command = .listProduct(listing)
                    case 2 where !open.isEmpty:
                        command = .confirm(reservationId: open.removeLast(), userId: nil, orderId: UUID.v7().lowercased, paymentRef: text)
                    case 3:
                        command = .reserve(.init(reservationId: ReservationID.v7(), productId: saleId, userId: nextUser, quantity: 1, idempotencyKey: text))
                        nextUser += 1
                    default:
                        metadata.requestId = text
                        command = .reserve(.init(reservationId: ReservationID.v7(), productId: saleId, userId: nextUser, quantity: 1, idempotencyKey: "k\(nextUser)"))
                        nextUser += 1
                    }
                    cases.append((command, metadata, Expected(command, metadata, ledger.limits)))
                    // A valid neighbour between any two random ones.
                    cases.append((
                        .reserve(.init(reservationId: ReservationID.v7(), productId: saleId, userId: nextUser, quantity: 1, idempotencyKey: "ok-\(nextUser)")),
                        LedgerHarness.testMetadata, .commits))
                    nextUser += 1
                }
                let outcomes = try await withThrowingTaskGroup(of: (Int, Result<CommandResult, Error>).self) { group in
                    for (index, item) in cases.enumerated() {
                        group.addTask {
                            do {
                                return (index, .success(try await ledger.writer.submit(item.command, metadata: item.metadata)))
                            } catch {
                                return (index, .failure(error))
                            }
                        }
                    }
                    return try await group.reduce(into: [Int: Result<CommandResult, Error>]()) { $0[$1.0] = $1.1 }
                }
                for (index, item) in cases.enumerated() {
                    let outcome = outcomes[index]!
                    switch (item.expected, outcome) {
                    case (.commits, .success(let result)) where result.rejection == nil: break
                    case (.rejected, .success(let result)) where result.rejection?.code == .invalid: break
                    default:
                        Issue.record("round \(round) #\(index): expected \(item.expected), got \(outcome) for \(item.command)")
                    }
                }
                let problems = try await ledger.ledgerIsConsistent()
                #expect(problems.isEmpty, "\(problems)")
            }
        }
    }

    enum Expected: Equatable {
        case commits, rejected

        /// What the ledger must answer: validation's verdict, except that a key PostgreSQL's
        /// index cannot hold is refused by the database itself.
        init(_ command: LedgerCommand, _ metadata: EventMetadata, _ limits: Limits) {
            if command.validate(limits) != nil || metadata.validate(limits) != nil {
                self = .rejected
            } else if case .reserve(let reserve) = command, (reserve.idempotencyKey?.utf8.count ?? 0) > 2_700 {
                self = .rejected
            } else {
                self = .commits
            }
        }
    }
}

/// Text a hostile client might send: any scalar (NUL, C0 and C1 controls, the BMP, astral
/// planes, non-characters), mostly short, sometimes past every limit, sometimes printable
/// ASCII past the index's size (incompressible).
enum RandomText {
    static func next(using random: inout some RandomNumberGenerator) -> String {
        switch Int.random(in: 0..<10, using: &random) {
        case 0: return ""
        case 1: return String((0..<Int.random(in: 2_800...3_900, using: &random)).map { _ in
            Character(Unicode.Scalar(UInt8.random(in: 0x21...0x7E, using: &random))) })
        case 2: return "EUR"
        case 3: return "ok-\(UInt32.random(in: 0...UInt32.max, using: &random))"
        default:
            let length = Int.random(in: 1...(Bool.random(using: &random) ? 8 : 300), using: &random)
            var scalars = String.UnicodeScalarView()
            for _ in 0..<length { scalars.append(scalar(using: &random)) }
            return String(scalars)
        }
    }

    private static func scalar(using random: inout some RandomNumberGenerator) -> Unicode.Scalar {
        let ranges: [ClosedRange<UInt32>] = [0x00...0x1F, 0x7F...0x9F, 0x20...0x7E, 0xA0...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
        let range = ranges[Int.random(in: 0..<ranges.count, using: &random)]
        return Unicode.Scalar(UInt32.random(in: range, using: &random)) ?? "\u{FFFD}"
    }
}
