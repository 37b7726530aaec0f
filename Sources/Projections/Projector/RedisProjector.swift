import Ledger
import Logging
import ServiceLifecycle

/// Consumes the ledger topic and applies each event to the Redis read model with the `apply`
/// script, a batch per pipeline. Offsets are committed only after Redis applied the batch, so a
/// crash re-delivers; re-delivered events are at or below the product's applied position and
/// change nothing.
public final class RedisProjector: Service, Sendable {
    private let consumer: KafkaConsumer
    private let redis: RedisConnection
    private let namespace: String
    private let limits: Limits
    private let logger: Logger

    public init(
        consumer: KafkaConsumer, redis: RedisConnection, namespace: String = ProjectionKeys.defaultNamespace, limits: Limits = Limits(),
        logger: Logger = Logger(label: "ledger.projector")
    ) {
        self.consumer = consumer
        self.redis = redis
        self.namespace = namespace
        self.limits = limits
        self.logger = logger
    }

    /// Consumer settings: a fetch returns after at most 20 ms even when the broker (librdkafka's
    /// mock cluster does this) holds it until `fetch.wait.max.ms` (default 500); a projector that
    /// died gives up its partitions after 10 s instead of 45; a topic created after the
    /// subscription is noticed within 5 s.
    public static func consumerConfiguration(brokers: String) -> KafkaConfiguration {
        KafkaConfiguration(brokers: brokers, [
            "fetch.wait.max.ms": "20", "session.timeout.ms": "10000", "heartbeat.interval.ms": "2000",
            "topic.metadata.refresh.interval.ms": "5000",
        ])
    }

    /// The consumer group the projectors of one read model share (one per Redis namespace, so
    /// ledgers sharing a Kafka cluster do not rebalance each other).
    public static func groupID(namespace: String) -> String { "\(namespace)-projector" }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let messages = try await self.consumer.poll(maxMessages: self.limits.projectorBatchSize, timeoutMs: 100)
                    guard !messages.isEmpty else { continue }
                    try await self.applyRetrying(messages)
                    try await self.consumer.commit(messages)
                } catch {
                    self.logger.warning("projector: batch failed; retrying", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: .milliseconds(self.limits.projectorRetryDelayMs))
                }
            }
        }
        await close()
    }

    /// Leaves the consumer group and closes the Redis connection (`run` does this when it ends).
    public func close() async {
        await consumer.close()
        await redis.close()
    }

    private func applyRetrying(_ messages: [KafkaMessage]) async throws {
        while true {
            do {
                try await apply(messages)
                return
            } catch let error as RedisError where error.isRetriable {
                logger.warning("projector: Redis unavailable; retrying the batch", metadata: ["error": "\(error)"])
                try await Task.sleep(for: .milliseconds(limits.projectorRetryDelayMs))
            }
        }
    }

    /// Applies the events in `messages` to the live generation; returns how many changed Redis.
    @discardableResult
    public func apply(_ messages: [KafkaMessage]) async throws -> Int {
        let events = try messages.map { try RecordedEvent(json: $0.value) }
        return try await Self.apply(events, to: try await ProjectionGeneration.read(on: redis, namespace: namespace), on: redis)
    }

    /// Applies recorded events (in ledger order per product) to one generation. Shared with
    /// replay's catch-up, so both write exactly what the projector writes.
    static func apply(_ events: [RecordedEvent], to keys: ProjectionKeys, on redis: RedisConnection) async throws -> Int {
        var calls = [RedisScriptCall]()
        calls.reserveCapacity(events.count)
        var listed = [RedisArgument]()
        for event in events {
            let decoded = try event.decoded()
            if case .productListed = decoded { listed.append(RedisArgument(event.productId)) }
            calls.append(RedisScriptCall(
                ProjectionScripts.apply, keys: keys.product(event.productId).arguments,
                arguments: ProjectionScripts.applyArguments(decoded, position: event.position)))
        }
        if !listed.isEmpty {
            try await redis.command(["SADD", RedisArgument(keys.products)] + listed)
        }
        var applied = 0
        for reply in try await redis.evaluate(calls) {
            applied += try reply.orThrow().integer == 1 ? 1 : 0
        }
        return applied
    }
}
