import Ledger
import Projections

/// Asks each dependency a cheap question (PostgreSQL `SELECT 1`, Redis `PING`, Kafka cluster
/// metadata) and reports which answered. Serves `/ready` and `ledger serve`'s start-up check.
public struct ReadinessProbe: Sendable {
    public struct Report: Sendable, Equatable {
        /// Dependency name → nil when it answered, else the error text (never credentials).
        public var failures: [String: String]
        public var isReady: Bool { failures.isEmpty }
    }

    let postgres: PostgresConnection
    let redis: RedisConnection
    let kafka: KafkaAdmin
    let kafkaTopic: String

    public init(postgres: PostgresConnection, redis: RedisConnection, kafka: KafkaAdmin, kafkaTopic: String) {
        self.postgres = postgres
        self.redis = redis
        self.kafka = kafka
        self.kafkaTopic = kafkaTopic
    }

    public func check() async -> Report {
        async let postgresFailure = failure { try await postgres.query("SELECT 1") }
        async let redisFailure = failure { try await redis.command(["PING"]) }
        async let kafkaFailure = failure { _ = try await kafka.partitionCount(kafkaTopic, timeoutMs: 2_000) }
        var failures = [String: String]()
        failures["postgres"] = await postgresFailure
        failures["redis"] = await redisFailure
        failures["kafka"] = await kafkaFailure
        return Report(failures: failures)
    }

    private func failure(_ body: () async throws -> some Any) async -> String? {
        do {
            _ = try await body()
            return nil
        } catch {
            return String(describing: error)
        }
    }
}
