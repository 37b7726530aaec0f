import Ledger

/// Folds the whole ledger and compares it with every copy: the inline tables, the Redis read
/// model and (optionally) the Kafka topic. A clean system has no difference.
public struct LedgerAuditor: Sendable {
    public struct Report: Sendable {
        public var eventCount: Int
        public var head: Int64
        public var differences: [AuditDifference]
        /// Ledger positions the topic no longer holds because retention trimmed their partition
        /// (before its first retained message): counted, not differences.
        public var kafkaTrimmedPositions = 0
    }

    /// Where the topic comparison starts and how long reading the topic may take.
    public struct TopicAudit: Sendable {
        public var configuration: KafkaConfiguration
        public var topic: String
        /// Positions below this are not compared (nor counted as trimmed).
        public var fromPosition: Int64
        public var timeoutMs: Int

        public init(configuration: KafkaConfiguration, topic: String, fromPosition: Int64 = 0, timeoutMs: Int = Limits().auditTopicTimeoutMs) {
            self.configuration = configuration
            self.topic = topic
            self.fromPosition = fromPosition
            self.timeoutMs = timeoutMs
        }
    }

    private let reader: LedgerReader
    private let namespace: String
    private let limits: Limits
    private let clock: @Sendable () -> Timestamp

    public init(
        reader: LedgerReader, namespace: String = ProjectionKeys.defaultNamespace, limits: Limits = Limits(),
        clock: @escaping @Sendable () -> Timestamp = { .now() }
    ) {
        self.reader = reader
        self.namespace = namespace
        self.limits = limits
        self.clock = clock
    }

    /// `redis` nil skips the read model; `kafka` nil skips the topic. The read model may lag the
    /// ledger: it is given up to `projectionWaitMs` to reach the snapshot's positions.
    public func audit(redis: RedisConnection?, kafka: TopicAudit?, projectionWaitMs: Int = Limits().auditProjectionWaitMs) async throws -> Report {
        let snapshot = try await reader.snapshot(includingTables: true)
        var differences = snapshot.folded.invariantViolations().map {
            AuditDifference(source: "events", subject: "invariant", ledger: "holds", other: $0)
        }
        differences += snapshot.folded.differences(from: snapshot.tables!)
        if let redis {
            differences += try await redisDifferences(snapshot, redis: redis, waitMs: projectionWaitMs)
        }
        var trimmed = 0
        if let kafka {
            let ledger = try await reader.positionsByProduct(through: snapshot.head)
            let topic = try await TopicReader.read(configuration: kafka.configuration, topic: kafka.topic, timeoutMs: kafka.timeoutMs)
            let compared = TopicCompleteness.compare(ledger: ledger, topic: topic, head: snapshot.head, fromPosition: kafka.fromPosition)
            differences += compared.differences
            trimmed = compared.trimmedPositions
        }
        return Report(eventCount: snapshot.eventCount, head: snapshot.head, differences: differences, kafkaTrimmedPositions: trimmed)
    }

    // MARK: Redis

    func redisDifferences(_ snapshot: LedgerSnapshot, redis: RedisConnection, waitMs: Int) async throws -> [AuditDifference] {
        let expected = snapshot.expectedProjection()
        let deadline = ContinuousClock.now + .milliseconds(waitMs)
        var actual = [Int64: ProjectedProduct]()
        var keys: ProjectionKeys
        // Read until every product's applied position reached the snapshot's (or time is up).
        while true {
            keys = try await ProjectionGeneration.read(on: redis, namespace: namespace)
            var lagging = false
            for productId in expected.keys where actual[productId]?.config["applied"] != expected[productId]!.config["applied"] {
                actual[productId] = try await ProjectedProduct.read(keys.product(productId), on: redis)
                lagging = lagging || actual[productId]!.config["applied"] != expected[productId]!.config["applied"]
            }
            if !lagging || ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        var differences = [AuditDifference]()
        let staleBefore = clock().epochMs - limits.reconcilerTentativeAgeMs
        for productId in expected.keys.sorted() {
            let live = actual[productId]!
            for (id, since) in live.tentatives.sorted(by: { $0.key < $1.key }) where since < staleBefore {
                differences.append(AuditDifference(
                    source: "redis", subject: "product \(productId) tentative \(id)", ledger: "no open tentative",
                    other: "tentative since \(Timestamp(epochMs: since))"))
            }
            differences += expected[productId]!.differences(from: live.withoutTentatives(), productId: productId)
        }
        let projected = try await TentativeReconciler.productIds(in: keys, on: redis)
        for productId in projected where expected[productId] == nil {
            differences.append(AuditDifference(source: "redis", subject: "product \(productId)", ledger: "missing", other: "projected"))
        }
        for productId in expected.keys.sorted() where !projected.contains(productId) {
            differences.append(AuditDifference(
                source: "redis", subject: "product \(productId)", ledger: "listed", other: "missing from \(keys.products)"))
        }
        return differences
    }
}
