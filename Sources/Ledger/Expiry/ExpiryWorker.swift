import Logging
import ServiceLifecycle

/// Reverts reservations whose `expiresAt` has passed, through the writer, so the units go back
/// on sale and the quota returns. Safe with several instances: the writer decides each expiry
/// on the locked reservation row, and a reservation that another worker (or a confirm) ended
/// first is answered `alreadyEnded` and skipped.
public struct ExpiryWorker: Service {
    private let reader: LedgerReader
    private let writer: LedgerWriter
    private let limits: Limits
    private let logger: Logger
    private let clock: @Sendable () -> Timestamp

    public init(
        reader: LedgerReader, writer: LedgerWriter, limits: Limits = Limits(),
        logger: Logger = Logger(label: "ledger.expiry"), clock: @escaping @Sendable () -> Timestamp = { .now() }
    ) {
        self.reader = reader
        self.writer = writer
        self.limits = limits
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        try await PeriodicService(name: "expiry", intervalMs: limits.expiryIntervalMs, logger: logger) {
            let expired = try await pass()
            if expired > 0 { logger.info("expired reservations", metadata: ["count": "\(expired)"]) }
        }.run()
    }

    /// One pass: returns how many reservations this worker expired.
    @discardableResult
    public func pass() async throws -> Int {
        let due = try await reader.dueReservations(at: clock(), limit: limits.expiryBatchSize)
        let metadata = EventMetadata(actor: "system:expiry")
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            for reservationId in due {
                group.addTask {
                    let result = try await writer.submit(.expire(reservationId: reservationId), metadata: metadata)
                    return result.rejection == nil
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
    }
}
