import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The group-commit writer. Callers `submit` commands concurrently; the writer gathers them
/// into batches (flushed when the oldest has waited `writerBatchDelayMs` or the batch holds
/// `writerMaxBatchSize`), commits one transaction per batch and answers every caller with its
/// own result. A batch that a guard refuses is decided again under the inventory locks (up to
/// `writerLockedRetries` times), then split: each command is retried alone, so one bad command
/// never fails its neighbours. Nobody is told "committed" before COMMIT returned.
///
/// With several connections, the next batch starts while the previous one commits: it waits
/// for the ledger head row lock, so batches still commit (and get positions) one after
/// another, but gathering, planning and answering overlap with the database's work.
public final class LedgerWriter: Service, Sendable {
    /// What one flushed batch did, for benchmarks and metrics.
    public struct BatchReport: Sendable {
        public let size: Int
        public let commitDuration: Duration
    }

    private struct Pending: Sendable {
        let item: LedgerBatch.Item
        let complete: @Sendable (Result<CommandResult, Error>) -> Void
        let enqueuedAt: ContinuousClock.Instant
    }

    private let connections: [PostgresConnection]
    private let limits: Limits
    private let clock: @Sendable () -> Timestamp
    private let logger: Logger
    private let repeatedWarnings: LogThrottle
    private let onBatch: (@Sendable (BatchReport) -> Void)?
    private let metrics: WriterMetrics
    private let queue: BatchingQueue<Pending>
    private let shedder: Mutex<SojournShedder>

    public convenience init(
        connection: PostgresConnection, limits: Limits = Limits(), logger: Logger = Logger(label: "ledger.writer"),
        clock: @escaping @Sendable () -> Timestamp = { .now() }, metrics: MetricsFactory = MetricsSystem.factory,
        onBatch: (@Sendable (BatchReport) -> Void)? = nil
    ) {
        self.init(connections: [connection], limits: limits, logger: logger, clock: clock, metrics: metrics, onBatch: onBatch)
    }

    /// One batch in flight per connection. `metrics` gets the writer's batch figures
    /// (`WriterMetrics`); the default is the process's bootstrapped metrics system.
    public init(
        connections: [PostgresConnection], limits: Limits = Limits(), logger: Logger = Logger(label: "ledger.writer"),
        clock: @escaping @Sendable () -> Timestamp = { .now() }, metrics: MetricsFactory = MetricsSystem.factory,
        onBatch: (@Sendable (BatchReport) -> Void)? = nil
    ) {
        precondition(!connections.isEmpty, "the writer needs a connection")
        self.connections = connections
        self.queue = BatchingQueue(maxDepth: limits.writerMaxQueueDepth)
        self.shedder = Mutex(SojournShedder(targetMs: limits.sheddingTargetMs, intervalMs: limits.sheddingIntervalMs))
        self.limits = limits
        self.clock = clock
        self.logger = logger
        self.repeatedWarnings = LogThrottle(intervalMs: limits.repeatedWarningIntervalMs)
        self.onBatch = onBatch
        self.metrics = WriterMetrics(factory: metrics)
    }

    /// A connection for the writer: its statements find their rows by key, so each is planned
    /// once per session instead of on every batch (`StatementPlanning.cachedKeyLookups`).
    public static func connection(url: String, name: String, limits: Limits = Limits()) async throws -> PostgresConnection {
        try await PostgresConnection.connect(url: url, name: name, planning: .cachedKeyLookups, answerTimeoutMs: limits.postgresAnswerTimeoutMs)
    }

    /// `count` writer connections, `writer-0` …; none stays open if one cannot be made.
    public static func connections(url: String, count: Int, limits: Limits = Limits()) async throws -> [PostgresConnection] {
        precondition(count > 0, "the writer needs a connection")
        var opened = [PostgresConnection]()
        do {
            for index in 0..<count { opened.append(try await connection(url: url, name: "writer-\(index)", limits: limits)) }
        } catch {
            for connection in opened { await connection.close() }
            throw error
        }
        return opened
    }

    /// Decides `command` in the next batch and returns its result once the batch committed.
    /// Throws `LedgerError` (overloaded, unavailable, shuttingDown) when it could not be decided.
    public func submit(_ command: LedgerCommand, metadata: EventMetadata) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            submit(command, metadata: metadata) { continuation.resume(with: $0) }
        }
    }

    /// Like the async `submit`, but hands the result to `completion`, exactly once, on whichever
    /// thread decided it: for a caller already off its task (the Redis gate's thread) that
    /// would otherwise wake the task only to submit.
    public func submit(_ command: LedgerCommand, metadata: EventMetadata, completion: @escaping @Sendable (Result<CommandResult, Error>) -> Void) {
        if let rejection = command.validate(limits) ?? metadata.validate(limits) { return completion(.success(.rejected(rejection))) }
        if isSheddingNewWork {
            metrics.failed(.overloaded, commands: 1)
            return completion(.failure(LedgerError(.overloaded, "commands wait longer than \(limits.sheddingTargetMs) ms for the ledger")))
        }
        let pending = Pending(item: LedgerBatch.Item(command: command, metadata: metadata), complete: completion, enqueuedAt: .now)
        switch queue.enqueue(pending) {
        case nil: break
        case .closed?:
            metrics.failed(.shuttingDown, commands: 1)
            completion(.failure(LedgerError(.shuttingDown, "the ledger writer is shutting down")))
        case .full(let depth)?:
            metrics.failed(.overloaded, commands: 1)
            completion(.failure(LedgerError(.overloaded, "\(depth) commands are waiting for the ledger")))
        }
    }

    /// Runs batches until graceful shutdown, cancellation (a sibling service failed) or
    /// `shutdown()`, then commits what was queued.
    public func run() async throws {
        await queue.dispatch(to: connections, nextBatch: nextBatch) { batch, connection in
            await self.commit(batch, on: connection)
        }
    }

    /// Whether new commands are refused now: the queue is overloaded (`SojournShedder`) and a
    /// batch or more already waits. Callers may refuse work before it takes other resources
    /// (the gate's units).
    public var isSheddingNewWork: Bool {
        shedder.withLock { $0.isOverloaded } && queue.peek().count >= limits.writerMaxBatchSize
    }

    /// Commands waiting for a batch (for metrics and back-pressure decisions).
    public var queueDepth: Int {
        queue.peek().count
    }

    /// Stops taking commands; `run` returns after the queued ones are committed.
    public func shutdown() {
        queue.close()
    }

    // MARK: Batching

    private func nextBatch() async -> [Pending]? {
        while true {
            await queue.waitForWork()
            guard let batch = queue.take(max: limits.writerMaxBatchSize) else { return nil }  // closed and drained
            let kept = shedLate(batch, observing: true)
            if !kept.isEmpty { return kept }
        }
    }

    /// `taken` without the commands that waited past the shedding target while the queue is
    /// overloaded; those are answered `overloaded` (nothing was decided: retry). `observing`
    /// feeds the oldest wait to the detector, once per batch taken.
    private func shedLate(_ taken: [Pending], observing: Bool) -> [Pending] {
        guard let oldest = taken.first else { return taken }
        let now = ContinuousClock.now
        let queue = self.queue
        let shedder = self.shedder.withLock { shedder in
            if observing { shedder.observe(wait: now - oldest.enqueuedAt, drained: queue.peek().count == 0, at: now) }
            return shedder
        }
        guard shedder.sheds(wait: now - oldest.enqueuedAt) else { return taken }
        var kept = [Pending]()
        var shed = [Pending]()
        for pending in taken {
            if shedder.sheds(wait: now - pending.enqueuedAt) { shed.append(pending) } else { kept.append(pending) }
        }
        metrics.failed(.overloaded, commands: shed.count)
        let error = LedgerError(.overloaded, "waited more than \(limits.sheddingTargetMs) ms for the ledger while it is overloaded")
        for pending in shed { pending.complete(.failure(error)) }
        return kept
    }

    // MARK: Commit

    private func commit(_ taken: [Pending], on connection: PostgresConnection) async {
        let start = ContinuousClock.now
        metrics.queueWait.record(duration: start - taken[0].enqueuedAt)
        var (batch, outcome) = await gatheredTransaction(taken, on: connection)
        if case .failure(let error) = outcome, Self.isTransient(error) {
            do { outcome = .success(try await transactionOnce(batch.map(\.item), on: connection)) } catch { outcome = .failure(error) }
        }
        switch outcome {
        case .success(let results):
            for (pending, result) in zip(batch, results) { pending.complete(.success(result)) }
        case .failure(let error) where Self.isGuardRefusal(error):
            // A command broke a guard the decision could not foresee: stock taken by concurrent
            // batches while this one decided unlocked, or a row another batch created since the
            // load (the same user in two batches at once). Decide the batch again under the
            // inventory locks, seeing those rows — a few times, since each race needs a new
            // concurrent batch — and only then decide each command alone (a whole batch of
            // single transactions is seconds), mapping a refusal to its reason.
            logger.info("batch refused by a guard; deciding it again locked", metadata: ["size": "\(batch.count)", "error": "\(error)"])
            await commitLocked(batch, on: connection)
        case .failure(let error) where Self.isDataRefusal(error):
            logger.info("batch refused for a command's data; splitting it", metadata: ["size": "\(batch.count)", "error": "\(error)"])
            await commitSplitting(batch, on: connection)
        case .failure(let error):
            fail(batch, with: error)
        }
        let duration = ContinuousClock.now - start
        metrics.batches.increment()
        metrics.batchCommands.record(batch.count)
        metrics.batchDuration.record(duration: duration)
        onBatch?(BatchReport(size: batch.count, commitDuration: duration))
    }

    /// Group commit, on the connection's thread: the batch waits until its oldest command has
    /// waited the batch delay, takes what arrived meanwhile, and runs. Waiting there instead of in
    /// a task saves a timer and two thread hops a batch; under load the previous commit already
    /// took longer than the delay and it does not wait. Returns the whole batch with its outcome.
    private func gatheredTransaction(_ taken: [Pending], on connection: PostgresConnection) async -> ([Pending], Result<[CommandResult], Error>) {
        let deadline = taken[0].enqueuedAt + .milliseconds(limits.writerBatchDelayMs)
        let (queue, limits, clock, transactionDuration) = (queue, limits, clock, metrics.transactionDuration)
        do {
            return try await connection.withSession { session in
                var batch = taken
                if batch.count < limits.writerMaxBatchSize {
                    let wait = deadline - .now
                    if wait > .zero { Thread.sleep(forTimeInterval: wait / .seconds(1)) }
                    batch += self.shedLate(queue.take(max: limits.writerMaxBatchSize - batch.count) ?? [], observing: false)
                }
                let ledgerBatch = LedgerBatch(items: batch.map(\.item), now: clock(), limits: limits, alwaysLockInventory: false)
                return (batch, Result { try Self.timed(transactionDuration) { try ledgerBatch.run(session) } })
            }
        } catch {
            return (taken, .failure(error))  // the session never ran: nothing was taken from the queue
        }
    }

    private func commitLocked(_ batch: [Pending], on connection: PostgresConnection) async {
        for attempt in 1...limits.writerLockedRetries {
            do {
                let results = try await transaction(batch.map(\.item), on: connection, alwaysLockInventory: true)
                for (pending, result) in zip(batch, results) { pending.complete(.success(result)) }
                return
            } catch let error where Self.isGuardRefusal(error) {
                logger.info("batch refused by a guard again", metadata: ["size": "\(batch.count)", "attempt": "\(attempt)", "error": "\(error)"])
            } catch where Self.isDataRefusal(error) {
                await commitSplitting(batch, on: connection)
                return
            } catch {
                fail(batch, with: error)
                return
            }
        }
        for pending in batch {
            await commitAlone(pending, on: connection)
        }
    }

    /// A batch the database refused for one command's data (a value validation let through):
    /// each half is committed apart, and split again while it is refused, until the command
    /// stands alone and is rejected as invalid. Its neighbours commit whatever it sent, at the
    /// cost of about two transactions per halving.
    private func commitSplitting(_ batch: [Pending], on connection: PostgresConnection) async {
        guard batch.count > 1 else { return await commitAlone(batch[0], on: connection) }
        for half in [batch[..<(batch.count / 2)], batch[(batch.count / 2)...]] {
            let half = Array(half)
            do {
                let results = try await transaction(half.map(\.item), on: connection)
                for (pending, result) in zip(half, results) { pending.complete(.success(result)) }
            } catch where Self.isGuardRefusal(error) {
                await commitLocked(half, on: connection)
            } catch where Self.isDataRefusal(error) {
                await commitSplitting(half, on: connection)
            } catch {
                fail(half, with: error)
            }
        }
    }

    private func commitAlone(_ pending: Pending, on connection: PostgresConnection) async {
        // A unique violation on a key that did not exist when we looked (another writer's
        // idempotency key or listing) resolves on a second look, which sees the winner's row.
        for attempt in 1...2 {
            do {
                let result = try await transaction([pending.item], on: connection)[0]
                pending.complete(.success(result))
                return
            } catch let error as PostgresError where Self.isDataRefusal(error) {
                metrics.refusedData.increment()
                pending.complete(.success(.rejected(LedgerRejection(.invalid, "the ledger cannot store this command's data: \(error.message)"))))
                return
            } catch let error as PostgresError where Self.isGuardRefusal(error) {
                if let rejection = Self.rejection(for: error, command: pending.item.command) {
                    pending.complete(.success(.rejected(rejection)))
                    return
                }
                if attempt == 2 {
                    fail([pending], with: error)
                }
            } catch {
                fail([pending], with: error)
                return
            }
        }
    }

    private func transaction(
        _ items: [LedgerBatch.Item], on connection: PostgresConnection, alwaysLockInventory: Bool = false
    ) async throws -> [CommandResult] {
        do {
            return try await transactionOnce(items, on: connection, alwaysLockInventory: alwaysLockInventory)
        } catch where Self.isTransient(error) {
            return try await transactionOnce(items, on: connection, alwaysLockInventory: alwaysLockInventory)
        }
    }

    private func transactionOnce(
        _ items: [LedgerBatch.Item], on connection: PostgresConnection, alwaysLockInventory: Bool = false
    ) async throws -> [CommandResult] {
        let batch = LedgerBatch(items: items, now: clock(), limits: limits, alwaysLockInventory: alwaysLockInventory)
        let transactionDuration = metrics.transactionDuration
        return try await connection.withSession { session in try Self.timed(transactionDuration) { try batch.run(session) } }
    }

    /// Runs `body` (on the connection's thread) and records how long it took, failed or not.
    private static func timed<T>(_ timer: Metrics.Timer, _ body: () throws -> T) rethrows -> T {
        let started = ContinuousClock.now
        defer { timer.record(duration: .now - started) }
        return try body()
    }

    private func fail(_ batch: [Pending], with error: Error) {
        let ledgerError: LedgerError
        switch error {
        case let error as PostgresError where error.isRetriable:
            ledgerError = LedgerError(.unavailable, "PostgreSQL: \(error.message); if this was a reservation, retry with the same idempotency key")
        case let error as LedgerError:
            ledgerError = error
        default:
            ledgerError = LedgerError(.storage, "\(error)")
        }
        repeatedWarnings.warning(logger, "ledger batch failed", metadata: ["size": "\(batch.count)", "error": "\(error)"])
        metrics.failed(ledgerError.code, commands: batch.count)
        for pending in batch { pending.complete(.failure(ledgerError)) }
    }

    /// A deadlock or serialization failure: the transaction left nothing behind and may run again.
    static func isTransient(_ error: Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.sqlState?.isTransientConflict == true
    }

    /// The database refused a value of the data itself: a data exception (class 22: NUL in
    /// text or jsonb, a bad escape, a value out of range) or a program limit (class 54: an index
    /// entry too large). Retrying the same command cannot succeed; its neighbours may.
    static func isDataRefusal(_ error: Error) -> Bool {
        guard let error = error as? PostgresError, error.code == .server, let state = error.sqlState else { return false }
        return state.isDataRefusal
    }

    static func isGuardRefusal(_ error: Error) -> Bool {
        guard let error = error as? PostgresError, let state = error.sqlState else { return false }
        return [.checkViolation, .uniqueViolation, .foreignKeyViolation, .ledgerGuardMismatch].contains(state)
    }

    /// The rejection a guard's refusal of a single command stands for; nil when a second
    /// look should decide (a row that appeared concurrently).
    static func rejection(for error: PostgresError, command: LedgerCommand) -> LedgerRejection? {
        switch error.constraint.flatMap(LedgerConstraint.init(rawValue:)) {
        case .inventoryNeverOversold:
            return LedgerRejection(.soldOut, "no units left")
        case .purchasesWithinLimit:
            return LedgerRejection(.limitExceeded, "the per-user limit is reached")
        case .eventsStreamVersion, .eventsReservationEndsOnce, .reservationsPrimaryKey:
            if case .reserve = command { return LedgerRejection(.invalid, "reservation id is already used") }
            return LedgerRejection(.alreadyEnded, "the reservation has already ended")
        case nil:
            return nil
        }
    }
}
