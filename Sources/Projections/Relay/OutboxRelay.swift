import Ledger
import Logging
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

    /// `database` runs the reads and checkpoint writes, `listener` only waits for NOTIFY.
    public init(
        name: String = "main", topic: String, database: PostgresConnection, listener: PostgresConnection,
        producer: KafkaProducer, admin: KafkaAdmin, limits: Limits = Limits(), logger: Logger = Logger(label: "ledger.relay")
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

    private func loop() async throws {
        var lastResetCheck: ContinuousClock.Instant?
        var listening = false
        while !Task.isCancelled {
            do {
                if !listening {
                    try await listener.listen(Self.notificationChannel)
                    listening = true
                }
                if lastResetCheck.map({ ContinuousClock.now - $0 >= .milliseconds(limits.relayResetCheckIntervalMs) }) ?? true {
                    let started = ContinuousClock.now
                    try await republishIfTopicWasReset()
                    lastResetCheck = .now
                    logger.debug("relay: checked the topic for a reset", metadata: ["elapsed": "\(ContinuousClock.now - started)"])
                }
                if try await publishNextBatch() == 0 {
                    _ = try await listener.waitForNotifications(timeoutMs: Int32(limits.relayPollIntervalMs))
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("relay: publishing failed; retrying", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(limits.relayRetryDelayMs))
            }
        }
    }

    /// Publishes the next events after the checkpoint; returns how many the checkpoint moved over.
    @discardableResult
    public func publishNextBatch() async throws -> Int {
        let checkpoint = try await loadCheckpoint()
        let events = try await reader.log(after: checkpoint, limit: limits.relayBatchSize)
        guard !events.isEmpty else { return 0 }
        let outcomes = await producer.send(events.map { Self.message(for: $0, topic: topic) })
        var delivered = 0
        var nextOffsets = [Int32: Int64]()
        var failure: KafkaError?
        for outcome in outcomes {
            switch outcome {
            case .success(let report):
                nextOffsets[report.partition] = max(nextOffsets[report.partition] ?? 0, report.offset + 1)
                delivered += 1
            case .failure(let error):
                failure = error
            }
            if failure != nil { break }
        }
        if delivered > 0 {
            try await saveCheckpoint(position: events[delivered - 1].position, nextOffsets: nextOffsets)
        }
        if let failure { throw failure }
        return delivered
    }

    /// The Kafka form of a ledger event (DESIGN.md §4).
    public static func message(for event: RecordedEvent, topic: String) -> KafkaOutgoingMessage {
        KafkaOutgoingMessage(
            topic: topic, key: Array(String(event.productId).utf8), value: Array(event.json.utf8),
            headers: [
                ("type", Array(event.type.utf8)), ("eventId", Array(event.eventId.utf8)),
                ("position", Array(String(event.position).utf8)), ("schemaVersion", Array(String(event.schemaVersion).utf8)),
            ])
    }

    /// A topic whose high watermark is behind what the relay saw delivered was deleted or
    /// recreated (or is a new dev broker): start over from the beginning of the ledger.
    public func republishIfTopicWasReset() async throws {
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
                return
            }
        }
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
