import Ledger
import Logging
import Metrics
import ServiceLifecycle

/// Publishes the ledger to Kafka (the transactional outbox is the events table itself). Tails
/// the log from a checkpoint kept in PostgreSQL, woken by NOTIFY and polling as a fallback,
/// produces every event keyed by product id, and moves the checkpoint only over a contiguous
/// prefix of delivered events. At-least-once: a crash between delivery and checkpoint
/// publishes a few events again; consumers skip positions they have applied.
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
        self.metrics = RelayMetrics(factory: metrics)
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
        // The delivered position, kept between rounds instead of read back every round; nil
        // loads the stored checkpoint (at the start, after a failure or a reset).
        var position: Int64?
        var unsaved: Unsaved?
        while !Task.isCancelled {
            do {
                if !listening {
                    try await listener.listen(Self.notificationChannel)
                    listening = true
                }
                if lastResetCheck.map({ ContinuousClock.now - $0 >= .milliseconds(limits.relayResetCheckIntervalMs) }) ?? true {
                    let started = ContinuousClock.now
                    if try await republishIfTopicWasReset() {
                        position = nil
                        unsaved = nil
                    }
                    lastResetCheck = .now
                    logger.debug("relay: checked the topic for a reset", metadata: ["elapsed": "\(ContinuousClock.now - started)"])
                }
                let roundStart = ContinuousClock.now
                let from: Int64
                if let position { from = position } else { from = try await loadCheckpoint() }
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
                    try await saveCheckpoint(position: pending.position, nextOffsets: pending.nextOffsets)
                    unsaved = nil
                }
                switch cadence.nextRound(afterDelivering: round.delivered, roundStart: roundStart, now: .now) {
                case .now: break
                case .after(let delay): try await Task.sleep(for: delay)
                case .whenNotified: _ = try await listener.waitForNotifications(timeoutMs: Int32(limits.relayPollIntervalMs))
                }
            } catch {
                if Task.isCancelled { break }
                metrics.failedRounds.increment()
                logger.warning("relay: publishing failed; retrying", metadata: ["error": "\(error)"])
                // What was delivered stays delivered; the rest is read again from the store.
                if let pending = unsaved { try? await saveCheckpoint(position: pending.position, nextOffsets: pending.nextOffsets) }
                position = nil
                unsaved = nil
                try await Task.sleep(for: .milliseconds(limits.relayRetryDelayMs))
            }
        }
        // Stopping: write what was delivered, so a restart republishes nothing it need not.
        if let pending = unsaved { try? await saveCheckpoint(position: pending.position, nextOffsets: pending.nextOffsets) }
    }

    /// Publishes the next events after the stored checkpoint and stores the new one; returns
    /// how many events the checkpoint moved over.
    @discardableResult
    public func publishNextBatch() async throws -> Int {
        let round = try await publish(after: try await loadCheckpoint())
        if round.delivered > 0 {
            try await saveCheckpoint(position: round.position, nextOffsets: round.nextOffsets)
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
    /// whether it did.
    @discardableResult
    public func republishIfTopicWasReset() async throws -> Bool {
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
                try await database.transaction { [name] session in
                    try session.query("UPDATE relay_checkpoints SET position = 0, updated_at = now() WHERE relay = $1", [.text(name)])
                    try session.query("DELETE FROM relay_partition_offsets WHERE relay = $1", [.text(name)])
                }
                return true
            }
        }
        return false
    }

    /// The position up to which every event is delivered. A checkpoint kept for another topic
    /// starts over: the new topic has none of the events yet.
    public func loadCheckpoint() async throws -> Int64 {
        try await database.transaction { [name, topic] session in
            try session.query(
                "INSERT INTO relay_checkpoints (relay, topic, position) VALUES ($1, $2, 0) ON CONFLICT (relay) DO NOTHING",
                [.text(name), .text(topic)])
            let row = try session.query("SELECT topic, position FROM relay_checkpoints WHERE relay = $1 FOR UPDATE", [.text(name)])[0]
            if try row["topic"].string() != topic {
                try session.query("UPDATE relay_checkpoints SET topic = $2, position = 0, updated_at = now() WHERE relay = $1", [.text(name), .text(topic)])
                try session.query("DELETE FROM relay_partition_offsets WHERE relay = $1", [.text(name)])
                return 0
            }
            return try row["position"].int64()
        }
    }

    private func saveCheckpoint(position: Int64, nextOffsets: [Int32: Int64]) async throws {
        let partitions = nextOffsets.keys.sorted()
        try await database.transaction { [name] session in
            try session.query(
                "UPDATE relay_checkpoints SET position = GREATEST(position, $2), updated_at = now() WHERE relay = $1",
                [.text(name), .int64(position)])
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
