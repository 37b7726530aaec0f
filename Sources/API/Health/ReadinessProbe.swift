import Ledger
import Synchronization
import Projections

/// Asks each dependency a cheap question (PostgreSQL `SELECT 1`, Redis `PING`, Kafka cluster
/// metadata) and reports which answered. Serves `/ready` and `ledger serve`'s start-up check.
public struct ReadinessProbe: Sendable {
    public struct Report: Sendable, Equatable {
        /// Dependency name → nil when it answered, else the error text (never credentials).
        public var failures: [String: String]
        public var isReady: Bool { failures.isEmpty }

        public init(failures: [String: String]) {
            self.failures = failures
        }
    }

    let postgres: PostgresConnection
    let redis: RedisConnection
    let kafka: KafkaAdmin
    let kafkaTopic: String

    private let limits: Limits

    public init(postgres: PostgresConnection, redis: RedisConnection, kafka: KafkaAdmin, kafkaTopic: String, limits: Limits = Limits()) {
        self.postgres = postgres
        self.redis = redis
        self.kafka = kafka
        self.kafkaTopic = kafkaTopic
        self.limits = limits
    }

    public func check() async -> Report {
        async let postgresFailure = failure { try await postgres.query("SELECT 1") }
        async let redisFailure = failure { try await redis.command(["PING"]) }
        async let kafkaFailure = failure { _ = try await kafka.partitionCount(kafkaTopic, timeoutMs: limits.readinessKafkaTimeoutMs) }
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

/// `/ready` answers from a report at most `maxAgeMs` old: anyone may call it (load balancers do,
/// several times a second each), and each check is three round trips. One refresh runs at a
/// time; callers meanwhile get the previous report. Only the very first callers wait for one.
public final class ReadinessCache: Sendable {
    private struct State {
        var report: ReadinessProbe.Report?
        var checkedAt = ContinuousClock.now
        var refreshing = false
    }

    private let check: @Sendable () async -> ReadinessProbe.Report
    private let maxAge: Duration
    private let state = Mutex(State())

    /// `check` is the probe's (`ReadinessProbe.check`).
    public init(maxAgeMs: Int, check: @escaping @Sendable () async -> ReadinessProbe.Report) {
        self.check = check
        self.maxAge = .milliseconds(maxAgeMs)
    }

    public func report() async -> ReadinessProbe.Report {
        let now = ContinuousClock.now
        let (cached, refresh): (ReadinessProbe.Report?, Bool) = state.withLock { state in
            if let report = state.report, now - state.checkedAt < maxAge { return (report, false) }
            if state.refreshing, let report = state.report { return (report, false) }
            state.refreshing = true
            return (state.report, true)
        }
        guard refresh else { return cached! }
        let report = await check()
        state.withLock { state in
            state.report = report
            state.checkedAt = .now
            state.refreshing = false
        }
        return report
    }
}
