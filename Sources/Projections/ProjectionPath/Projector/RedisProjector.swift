import Ledger
import Logging
import Metrics
import ServiceLifecycle

/// Consumes the ledger topic and applies each event to the Redis read model with the `apply`
/// script, a batch per pipeline. Offsets are committed only after Redis applied the batch, so a
/// crash re-delivers; re-delivered events are at or below the product's applied position and
/// change nothing.
///
/// Messages nobody applied are never skipped silently. When retention removed them before the
/// projector got to them (a projector down for long, or librdkafka's mock broker, which keeps
/// 5 MB a partition), librdkafka jumps to the earliest offset the topic still holds; the
/// projector notices the jump past the group's committed offset and rebuilds the read model
/// from the ledger (`rebuilder`) before it applies anything after it.
public final class RedisProjector: Service, Sendable {
    private let consumer: KafkaConsumer
    private let redis: RedisConnection
    private let rebuilder: ProjectionReplayer
    private let namespace: String
    private let limits: Limits
    private let logger: Logger
    private let metrics: ProjectorMetrics

    public init(
        consumer: KafkaConsumer, redis: RedisConnection, rebuilder: ProjectionReplayer, namespace: String = ProjectionKeys.defaultNamespace,
        limits: Limits = Limits(), logger: Logger = Logger(label: "ledger.projector"), metrics: MetricsFactory = MetricsSystem.factory
    ) {
        self.consumer = consumer
        self.redis = redis
        self.rebuilder = rebuilder
        self.namespace = namespace
        self.limits = limits
        self.logger = logger
        self.metrics = ProjectorMetrics(factory: metrics)
    }

    /// Consumer settings: a fetch returns after at most 20 ms even when the broker (librdkafka's
    /// mock cluster does this) holds it until `fetch.wait.max.ms` (default 500); a projector that
    /// died gives up its partitions after `projectorSessionTimeoutMs` instead of 45 s, with
    /// heartbeats three to a session; a topic created after the subscription is noticed within 5 s.
    public static func consumerConfiguration(brokers: String, limits: Limits = Limits()) -> KafkaConfiguration {
        KafkaConfiguration(brokers: brokers, [
            "fetch.wait.max.ms": "20", "session.timeout.ms": "\(limits.projectorSessionTimeoutMs)",
            "heartbeat.interval.ms": "\(limits.projectorSessionTimeoutMs / 3)", "topic.metadata.refresh.interval.ms": "5000",
        ])
    }

    /// The consumer group the projectors of one read model share (one per Redis namespace, so
    /// ledgers sharing a Kafka cluster do not rebalance each other).
    public static func groupID(namespace: String) -> String { "\(namespace)-projector" }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var continuity = PartitionContinuity()
            var membership = GroupMembershipWatch()
            // The ledger position the last rebuild included; a skip before it needs no new one.
            var rebuiltThrough: Int64 = 0
            // A batch that failed is tried again rather than dropped: the consumer has moved past it.
            var batch = [KafkaMessage]()
            while !Task.isCancelled {
                do {
                    if batch.isEmpty {
                        batch = try await self.consumer.poll(maxMessages: self.limits.projectorBatchSize, timeoutMs: 100)
                        self.observe(&membership)
                        guard !batch.isEmpty else { continue }
                    }
                    try await self.project(batch, continuity: &continuity, rebuiltThrough: &rebuiltThrough)
                    batch = []
                } catch {
                    // Stopping interrupts the batch; it is not a failure, and the next start applies it.
                    if Task.isCancelled { break }
                    self.metrics.failedBatches.increment()
                    self.logger.warning("projector: batch failed; retrying", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: .milliseconds(self.limits.projectorRetryDelayMs))
                }
            }
        }
        await close()
    }

    private func project(_ messages: [KafkaMessage], continuity: inout PartitionContinuity, rebuiltThrough: inout Int64) async throws {
        let jumps = continuity.jumps(in: messages)
        if !jumps.isEmpty {
            let committed = try await consumer.committed(jumps.map { KafkaTopicPartition(topic: $0.topic, partition: $0.partition) })
            let skips = PartitionContinuity.skips(jumps, committed: committed)
            // A partition carries events in ledger order: everything a skip passed over comes
            // before the message after it.
            if skips.contains(where: { Self.position(of: $0) > rebuiltThrough }) {
                rebuiltThrough = try await rebuild(after: skips)
            }
        }
        try await applyRetrying(messages)
        continuity.advance(past: messages)
        // Queued, not awaited: Redis holds the batch, and a commit the coordinator refuses (the
        // group dropped this member) is covered by the next one or by redelivery to the new owner.
        try await consumer.commit(messages, waitForAcknowledgement: false)
    }

    /// Reports the consumer's group membership: a loss and the rejoin once each, at the time
    /// they happen, and the member and lag gauges.
    private func observe(_ membership: inout GroupMembershipWatch) {
        let status = consumer.groupStatus
        for change in membership.changes(status) {
            switch change {
            case .lost(let times):
                metrics.groupRejoins.increment(by: times)
                logger.warning("projector: the consumer group dropped this member (session timed out, or fenced); rejoining")
            case .rejoined:
                logger.notice("projector: rejoined the consumer group; resuming from the committed offsets")
            case .commitsFailed(let count):
                metrics.failedCommits.increment(by: count)
            }
        }
        metrics.groupMember.record(status.isMember ? 1 : 0)
        metrics.lagMessages.record(status.lagMessages)
    }

    /// Leaves the consumer group and closes the Redis connection (`run` does this when it ends).
    public func close() async {
        await consumer.close()
        await redis.close()
    }

    /// Rebuilds the read model from the ledger after `skips` (messages that follow offsets nobody
    /// applied); returns the ledger position the rebuild included.
    private func rebuild(after skips: [KafkaMessage]) async throws -> Int64 {
        logger.error("projector: the topic no longer holds messages that were never applied; rebuilding the read model from the ledger", metadata: [
            "skips": "\(skips.map { "\($0.topic) [\($0.partition)] resumed at offset \($0.offset)" })",
        ])
        metrics.rebuilds.increment()
        let report = try await rebuilder.replay(verify: false)
        logger.notice("projector: read model rebuilt from the ledger", metadata: [
            "events": "\(report.eventCount)", "generation": "\(report.generation)", "position": "\(report.position)",
        ])
        return report.position
    }

    /// The ledger position a message carries (`.max` when it carries none: that forces a rebuild).
    private static func position(of message: KafkaMessage) -> Int64 {
        message.integerHeader("position") ?? .max
    }

    /// Applies `messages`, waiting out a Redis outage; says so once when it begins and once when it ends.
    private func applyRetrying(_ messages: [KafkaMessage]) async throws {
        var failures = 0
        while true {
            do {
                try await apply(messages)
                if failures > 0 { logger.notice("projector: Redis is back; applying again", metadata: ["attempts": "\(failures + 1)"]) }
                return
            } catch let error as RedisError where error.isRetriable {
                if failures == 0 { logger.warning("projector: Redis unavailable; retrying the batch until it returns", metadata: ["error": "\(error)"]) }
                failures += 1
                try await Task.sleep(for: .milliseconds(limits.projectorRetryDelayMs))
            }
        }
    }

    /// Applies the events in `messages` to the live generation; returns how many changed Redis.
    @discardableResult
    public func apply(_ messages: [KafkaMessage]) async throws -> Int {
        let events = try messages.map(ProjectableEvent.init)
        let changed = try await Self.apply(
            events, to: try await ProjectionGeneration.read(on: redis, namespace: namespace), on: redis, eventsPerCall: limits.projectorEventsPerScriptCall)
        metrics.appliedEvents.increment(by: events.count)
        if let highest = events.lazy.map(\.position).max() { metrics.appliedPosition.record(highest) }
        return changed
    }

    /// Applies recorded events (in ledger order per product) to one generation. Shared with
    /// replay's catch-up, so both write exactly what the projector writes. One script call
    /// carries up to `eventsPerCall` consecutive events of a product: the call's fixed cost is
    /// paid once for them, and the bound keeps any one call short, since Redis runs nothing
    /// else (the gate's calls included) while a script runs.
    static func apply(_ events: [ProjectableEvent], to keys: ProjectionKeys, on redis: RedisConnection, eventsPerCall: Int) async throws -> Int {
        precondition(eventsPerCall > 0, "a script call carries at least one event")
        var open = [Int64: (arguments: [RedisArgument], events: Int)]()
        var calls = [RedisScriptCall]()
        var listed = [RedisArgument]()
        func call(_ productId: Int64, _ arguments: [RedisArgument]) -> RedisScriptCall {
            RedisScriptCall(ProjectionScripts.apply, keys: keys.product(productId).arguments, arguments: arguments)
        }
        for projectable in events {
            let event = projectable.event
            if case .productListed = event { listed.append(RedisArgument(event.productId)) }
            var segment = open.removeValue(forKey: event.productId) ?? ([], 0)
            segment.arguments += ProjectionScripts.applyArguments(event, position: projectable.position)
            segment.events += 1
            if segment.events == eventsPerCall {
                calls.append(call(event.productId, segment.arguments))
            } else {
                open[event.productId] = segment
            }
        }
        // Calls of different products touch different keys, so their order does not matter;
        // one product's calls keep ledger order.
        for (productId, segment) in open.sorted(by: { $0.key < $1.key }) { calls.append(call(productId, segment.arguments)) }
        if !listed.isEmpty {
            try await redis.command(["SADD", RedisArgument(keys.products)] + listed)
        }
        var applied = 0
        for reply in try await redis.evaluate(calls) {
            applied += Int(try reply.orThrow().integer ?? 0)
        }
        return applied
    }
}
