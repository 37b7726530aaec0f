import Foundation
import Ledger

/// A migrated, empty ledger database with a running writer and a reader, for one test.
public struct LedgerHarness: Sendable {
    public let databaseURL: String
    public let writer: LedgerWriter
    /// The writer's own connections (a test may look into their sessions).
    public let writerConnections: [PostgresConnection]
    public let reader: LedgerReader
    public let limits: Limits

    /// The repository's `migrations/` folder.
    public static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations").path

    public static func run<T: Sendable>(
        limits: Limits = Limits(), writerConnections: Int = 1, clock: @escaping @Sendable () -> Timestamp = { .now() },
        _ body: @escaping @Sendable (LedgerHarness) async throws -> T
    ) async throws -> T {
        try await TestServices.withTemporaryDatabase { url in
            try await migrate(url)
            var writers = [PostgresConnection]()
            for index in 0..<writerConnections {
                writers.append(try await LedgerWriter.connection(url: url, name: "writer-\(index)"))
            }
            let readerConnection = try await PostgresConnection.connect(url: url, name: "reader")
            let harness = LedgerHarness(
                databaseURL: url, writer: LedgerWriter(connections: writers, limits: limits, clock: clock), writerConnections: writers,
                reader: LedgerReader(connection: readerConnection, limits: limits), limits: limits)
            let value = try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask {
                    try await harness.writer.run()
                    return nil
                }
                group.addTask {
                    defer { harness.writer.shutdown() }
                    return try await body(harness)
                }
                var value: T?
                for try await result in group where result != nil { value = result }
                return value!
            }
            for connection in writers { await connection.close() }
            await readerConnection.close()
            return value
        }
    }

    /// A fresh, migrated database with a writer connection and a reader, for a test that makes
    /// its own `LedgerWriter` (its own limits, metrics or batch hook); both closed after `body`.
    public static func withWriterConnection(
        limits: Limits, _ body: (_ writerConnection: PostgresConnection, _ reader: LedgerReader) async throws -> Void
    ) async throws {
        try await TestServices.withTemporaryDatabase { url in
            try await migrate(url)
            let writerConnection = try await LedgerWriter.connection(url: url, name: "writer")
            let readerConnection = try await PostgresConnection.connect(url: url, name: "reader")
            let outcome: Result<Void, Error>
            do { outcome = .success(try await body(writerConnection, LedgerReader(connection: readerConnection, limits: limits))) } catch { outcome = .failure(error) }
            await writerConnection.close()
            await readerConnection.close()
            try outcome.get()
        }
    }

    public static func migrate(_ url: String) async throws {
        let connection = try await PostgresConnection.connect(url: url)
        _ = try await Migrator(migrations: try Migration.load(directory: migrationsDirectory)).migrate(connection)
        await connection.close()
    }

    /// A listing open from an hour ago for a day, unless told otherwise.
    public static func listing(
        productId: Int64, stock: Int64, limitPerUser: Int64 = 5, ttlSeconds: Int64 = 600,
        startsAt: Timestamp = Timestamp.now().adding(seconds: -3600), endsAt: Timestamp = Timestamp.now().adding(seconds: 86_400)
    ) -> ProductListed {
        ProductListed(
            productId: productId, name: "Product \(productId)", priceMinor: 1999, currency: "EUR", stock: stock,
            startsAt: startsAt, endsAt: endsAt, limitPerUser: limitPerUser, reservationTTLSeconds: ttlSeconds)
    }

    public static let testMetadata = EventMetadata(requestId: "test", actor: "test")

    public func submit(_ command: LedgerCommand) async throws -> CommandResult {
        try await writer.submit(command, metadata: Self.testMetadata)
    }

    public func reserve(productId: Int64, userId: Int64, quantity: Int64 = 1, key: String? = nil) async throws -> CommandResult {
        try await submit(.reserve(.init(
            reservationId: ReservationID.v7(), productId: productId, userId: userId, quantity: quantity, idempotencyKey: key)))
    }

    /// Folding the events gives exactly the inline tables, and every invariant holds.
    public func ledgerIsConsistent() async throws -> [String] {
        let snapshot = try await reader.snapshot(includingTables: true)
        let folded = snapshot.folded
        let tables = snapshot.tables!
        var problems = folded.invariantViolations()
        problems += folded.differences(from: tables).map(\.description)
        return problems
    }
}

extension Limits {
    /// These limits without shedding (by waiting time or attempts in flight): for tests that queue
    /// thousands of commands at once on purpose, to race batches, and expect every one decided. A
    /// busy machine can hold such a backlog past the shedding target; shedding has its own tests.
    public func withoutShedding() -> Limits {
        var limits = self
        limits.sheddingTargetMs = 3_600_000
        limits.sheddingIntervalMs = 3_600_000
        limits.maxReservationAttemptsInFlight = 1_000_000
        limits.reservationAttemptTargetMs = 3_600_000
        return limits
    }
}
