import Ledger
import Logging
import Metrics
import ServiceLifecycle

/// Publishes the ledger to Kafka (the transactional outbox is the events table itself). Tails
/// the log from a checkpoint kept in PostgreSQL, woken by NOTIFY and polling as a fallback,
/// produces every event keyed by product id, and moves the checkpoint only over a contiguous
/// prefix of delivered events. At-least-once: a crash between delivery and checkpoint
/// publishes a few events again; consumers skip positions they have applied. Every node may
/// run one: only the leader publishes (`RelayLeadership`), the others stand by.
public final class OutboxRelay: Service, Sendable {
    public static let notificationChannel = "ledger_events"

    private let name: String
    private let topic: String
    private let database: PostgresConnection
    private let listener: PostgresConnection
    private let producer: KafkaProducer
    private let admin: KafkaAdmin
    private let reader: LedgerReader
    private let limits: Limits
    private let logger: Logger
    private let metrics: RelayMetrics
    private let leadership: RelayLeadership

    /// `database` runs the reads and checkpoint writes, `listener` only waits for NOTIFY.
    public init(
        name: String = "main", topic: String, database: PostgresConnection, listener: PostgresConnection,
        producer: KafkaProducer, admin: KafkaAdmin, limits: Limits = Limits(), logger: Logger = Logger(label: "ledger.relay"),
        metrics: MetricsFactory = MetricsSystem.factory
    ) {
        self.name = name
        self.topic = topic
        self.database = database
        self.listener = listener
        self.producer = producer
        self.admin = admin
        self.reader = LedgerReader(connection: database, limits: limits)
        self.limits = limits
        self.logger = logger
        let metrics = RelayMetrics(factory: metrics)
        self.metrics = metrics
        self.leadership = RelayLeadership(name: name, topic: topic, database: database, limits: limits, logger: logger, metrics: metrics)
    }

    /// The producer settings the relay relies on: no message ever times out, so a broker outage
    /// delays publishing but never drops or reorders an event (the idempotent producer keeps
    /// per-partition order across its retries).
    public static func producerConfiguration(brokers: String) -> KafkaConfiguration {
        KafkaConfiguration(brokers: brokers, ["message.timeout.ms": "0", "linger.ms": "2"])
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            try await withTaskCancellationHandler {
                try await self.loop()
            } onCancel: {
                // Unblock sends waiting for a broker that is down; their events stay unpublished.
                self.producer.abandonPending()
            }
        }
    }

    /// Delivered events the stored checkpoint does not cover yet.
    private struct Unsaved {
        var position: Int64
        var nextOffsets: [Int32: Int64]
        let since: ContinuousClock.Instant
    }

    /// One produce round: the position of the delivered prefix, and the failure that ended it.
    private struct Round {
        var delivered = 0
        var position: Int64
        var nextOffsets: [Int32: Int64] = [:]
        var failure: KafkaError?
    }

    private func loop() async throws {
        let cadence = RelayCadence(
            batchSize: limits.relayBatchSize, minRoundInterval: .milliseconds(limits.relayMinRoundIntervalMs),
            checkpointInterval: .milliseconds(limits.relayCheckpointIntervalMs))
        var lastResetCheck: ContinuousClock.Instant?
        var listening = false
        // The epoch this relay leads with; position and unsaved belong to it.
        var ledEpoch: Int64?
        // The delivered position, kept between rounds instead of read back every round; nil
        // loads the stored checkpoint (at the start, after a failure, a reset or a take-over).
        var position: Int64?
        var unsaved: Unsaved?
        while !Task.isCancelled {
            do {
                if !listening {
                    try await listener.listen(Self.notificationChannel)
                    listening = true
                }
                guard let epoch = try await leadership.epoch() else {
                    ledEpoch = nil
                    try await standBy()
                    continue
                }
                if epoch != ledEpoch {
                    // What an earlier leadership delivered but did not save is published again.
                    ledEpoch = epoch
                    position = nil
                    unsaved = nil
                    lastResetCheck = nil
                }
                if lastResetCheck.map({ ContinuousClock.now - $0 >= .milliseconds(limits.relayResetCheckIntervalMs) }) ?? true {
                    let started = ContinuousClock.now
                    if try await republishIfTopicWasReset(epoch: epoch) {
                        position = nil
                        unsaved = nil
                    }
                    lastResetCheck = .now
                    logger.debug("relay: checked the topic for a reset", metadata: ["elapsed": "\(ContinuousClock.now - started)"])
                }
                let roundStart = ContinuousClock.now
                let from: Int64
                if let position { from = position } else { from = try await loadCheckpoint(epoch: epoch) }
                let round = try await publish(after: from)
                position = round.position
                if round.delivered > 0 {
                    var merged = unsaved ?? Unsaved(position: round.position, nextOffsets: [:], since: .now)
                    merged.position = round.position
                    merged.nextOffsets.merge(round.nextOffsets, uniquingKeysWith: max)
                    unsaved = merged
                }
                if let failure = round.failure { throw failure }
                if let pending = unsaved, cadence.savesCheckpoint(afterDelivering: round.delivered, unsavedSince: pending.since, now: .now) {
                    try await saveCheckpoint(position: pending.position, nextOffsets: pending.nextOffsets, epoch: epoch)
                    unsaved = nil
                }
                switch cadence.nextRound(afterDelivering: round.delivered, roundStart: roundStart, now: .now) {
                case .now: break
                case .after(let delay): try await Task.sleep(for: delay)
                case .whenNotified: _ = try await listener.waitForNotifications(timeoutMs: Int32(limits.relayPollIntervalMs))
                }
            } catch let error as RelayError where error.code == .fenced {
                // Another relay took over while this one published: it stands by from now on.
                position = nil
                unsaved = nil
            } catch {
                if Task.isCancelled { break }
                metrics.failedRounds.increment()
                logger.warning("relay: publishing failed; retrying", metadata: ["error": "\(error)"])
                // What was delivered stays delivered; the rest is read again from the store.
                if let pending = unsaved, let ledEpoch {
                    try? await saveCheckpoint(position: pending.position, nextOffsets: pending.nextOffsets, epoch: ledEpoch)
                }
                position = nil
                unsaved = nil
                try await Task.sleep(for: .milliseconds(limits.relayRetryDelayMs))
            }
        }
        // Stopping: write what was delivered, so a restart republishes nothing it need not, and
        // hand the leadership over at once.
        if let pending = unsaved, let ledEpoch {
            try? await saveCheckpoint(position: pending.position, nextOffsets: pending.nextOffsets, epoch: ledEpoch)
        }
        await leadership.resign()
    }

    /// A standby waits for its next try at the lock, and drains the notifications meanwhile
    /// (a listener that never reads them holds up PostgreSQL's notification queue).
    private func standBy() async throws {
        try await Task.sleep(for: .milliseconds(limits.relayLeadershipPollMs))
        _ = try await listener.waitForNotifications(timeoutMs: 0)
    }

    /// The epoch this relay leads with, or `notLeader` when another relay leads.
    private func leadingEpoch() async throws -> Int64 {
        guard let epoch = try await leadership.epoch() else {
            throw RelayError(code: .notLeader, message: "another session holds the lock of relay \(name)")
        }
        return epoch
    }

    /// Publishes the next events after the stored checkpoint and stores the new one; returns
    /// how many events the checkpoint moved over. Throws `notLeader` while another relay leads.
    @discardableResult
    public func publishNextBatch() async throws -> Int {
        let epoch = try await leadingEpoch()
        let round = try await publish(after: try await loadCheckpoint(epoch: epoch))
        if round.delivered > 0 {
            try await saveCheckpoint(position: round.position, nextOffsets: round.nextOffsets, epoch: epoch)
        }
        if let failure = round.failure { throw failure }
        return round.delivered
    }

    /// Produces the events after `position`; the round's position covers only the contiguous
    /// prefix that was delivered.
    private func publish(after position: Int64) async throws -> Round {
        let events = try await reader.log(after: position, limit: limits.relayBatchSize)
        var round = Round(position: position)
        guard !events.isEmpty else { return round }
        let outcomes = await producer.send(events.map { Self.message(for: $0, topic: topic) })
        for outcome in outcomes {
            switch outcome {
            case .success(let report):
                round.nextOffsets[report.partition] = max(round.nextOffsets[report.partition] ?? 0, report.offset + 1)
                round.delivered += 1
            case .failure(let error):
                round.failure = error
            }
            if round.failure != nil { break }
        }
        if round.delivered > 0 {
            round.position = events[round.delivered - 1].position
            metrics.publishedEvents.increment(by: round.delivered)
            metrics.deliveredPosition.record(round.position)
        }
        return round
    }

    /// The Kafka form of a ledger event (docs/architecture.md, the relay).
    public static func message(for event: RecordedEvent, topic: String) -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(
            topic: topic, key: .decimal(event.productId), value: event.json,
            headers: [
                ("type", Array(event.type.utf8)), ("eventId", Array(event.eventId.utf8)),
                ("position", .decimal(event.position)), ("schemaVersion", .decimal(Int64(event.schemaVersion))),
            ])
    }

    /// A topic whose high watermark is behind what the relay saw delivered was deleted or
    /// recreated (or is a new dev broker): start over from the beginning of the ledger. Returns
    /// whether it did. Throws `notLeader` while another relay leads.
    @discardableResult
    public func republishIfTopicWasReset() async throws -> Bool {
        try await republishIfTopicWasReset(epoch: try await leadingEpoch())
    }

    private func republishIfTopicWasReset(epoch: Int64) async throws -> Bool {
        let stored = try await database.query(
            "SELECT partition, next_offset FROM relay_partition_offsets WHERE relay = $1", [.text(name)])
        for row in stored {
            let partition = Int32(try row["partition"].int64())
            let expected = try row["next_offset"].int64()
            let high: Int64
            do {
                high = try await admin.watermarks(topic: topic, partition: partition).high
            } catch let error as KafkaError where error.isUnknownTopicOrPartition {
                high = 0
            }
            if high < expected {
                logger.warning(
                    "relay: the topic is behind the checkpoint (reset?); republishing the ledger from the start",
                    metadata: ["topic": "\(topic)", "partition": "\(partition)", "highWatermark": "\(high)", "expected": "\(expected)"])
                try await database.transaction { [name, leadership] session in
                    try leadership.expectEpoch(
                        session.query(
                            "UPDATE relay_checkpoints SET position = 0, updated_at = now() WHERE relay = $1 AND epoch = $2 RETURNING 1",
                            [.text(name), .int64(epoch)]), epoch)
                    try session.query("DELETE FROM relay_partition_offsets WHERE relay = $1", [.text(name)])
                }
                return true
            }
        }
        return false
    }

    /// The position up to which every event is delivered. A checkpoint kept for another topic
    /// starts over: the new topic has none of the events yet.
    private func loadCheckpoint(epoch: Int64) async throws -> Int64 {
        try await database.transaction { [name, topic, leadership] session in
            let rows = try session.query(
                "SELECT topic, position FROM relay_checkpoints WHERE relay = $1 AND epoch = $2 FOR UPDATE", [.text(name), .int64(epoch)])
            try leadership.expectEpoch(rows, epoch)
            let row = rows[0]
            if try row["topic"].string() != topic {
                try session.query("UPDATE relay_checkpoints SET topic = $2, position = 0, updated_at = now() WHERE relay = $1", [.text(name), .text(topic)])
                try session.query("DELETE FROM relay_partition_offsets WHERE relay = $1", [.text(name)])
                return 0
            }
            return try row["position"].int64()
        }
    }

    private func saveCheckpoint(position: Int64, nextOffsets: [Int32: Int64], epoch: Int64) async throws {
        let partitions = nextOffsets.keys.sorted()
        try await database.transaction { [name, leadership] session in
            // The row lock orders this write with a take-over's epoch bump: before it, or refused.
            try leadership.expectEpoch(
                session.query(
                    "UPDATE relay_checkpoints SET position = GREATEST(position, $2), updated_at = now() WHERE relay = $1 AND epoch = $3 RETURNING 1",
                    [.text(name), .int64(position), .int64(epoch)]), epoch)
            try session.query(
                """
                INSERT INTO relay_partition_offsets (relay, partition, next_offset)
                SELECT $1, p::int, o FROM unnest($2::int8[], $3::int8[]) AS t(p, o)
                ON CONFLICT (relay, partition) DO UPDATE
                    SET next_offset = GREATEST(relay_partition_offsets.next_offset, excluded.next_offset)
                """,
                [.text(name), .int64Array(partitions.map { Int64($0) }), .int64Array(partitions.map { nextOffsets[$0]! })])
        }
    }
}
