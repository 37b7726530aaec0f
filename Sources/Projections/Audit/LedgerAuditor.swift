import Ledger

/// Folds the whole ledger and compares it with every copy: the inline tables, the Redis read
/// model and (optionally) the Kafka topic. A clean system has no difference.
public struct LedgerAuditor: Sendable {
    public struct Report: Sendable {
        public var eventCount: Int
        public var head: Int64
        public var differences: [AuditDifference]
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
    public func audit(
        redis: RedisConnection?, kafka: (configuration: KafkaConfiguration, topic: String)?, projectionWaitMs: Int = 10_000
    ) async throws -> Report {
        let snapshot = try await reader.snapshot(includingTables: true)
        var differences = snapshot.folded.invariantViolations().map {
            AuditDifference(source: "events", subject: "invariant", ledger: "holds", other: $0)
        }
        differences += snapshot.folded.differences(from: snapshot.tables!)
        if let redis {
            differences += try await redisDifferences(snapshot, redis: redis, waitMs: projectionWaitMs)
        }
        if let kafka {
            differences += try await kafkaDifferences(snapshot, configuration: kafka.configuration, topic: kafka.topic)
        }
        return Report(eventCount: snapshot.eventCount, head: snapshot.head, differences: differences)
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

    // MARK: Kafka

    func kafkaDifferences(_ snapshot: LedgerSnapshot, configuration: KafkaConfiguration, topic: String) async throws -> [AuditDifference] {
        let ledger = try await reader.positionsByProduct(through: snapshot.head)
        let seen = try await TopicReader.positionsByProduct(configuration: configuration, topic: topic, timeoutMs: 60_000)
        var differences = [AuditDifference]()
        // What a consumer that skips positions at or below the highest it applied (the projector)
        // takes from the topic: redeliveries (the relay is at-least-once) are harmless, a gap or
        // an event behind a later one of its product is lost to it.
        for productId in Set(ledger.keys).union(seen.keys).sorted() {
            let expected = ledger[productId] ?? []
            let published = (seen[productId] ?? []).filter { $0 <= snapshot.head }
            let expectedSet = Set(expected)
            var applied = Set<Int64>()
            var highest: Int64 = 0
            for position in published where position > highest {
                applied.insert(position)
                highest = position
            }
            let present = Set(published)
            for position in expected where !applied.contains(position) {
                differences.append(AuditDifference(
                    source: "kafka", subject: "product \(productId) position \(position)", ledger: "event",
                    other: present.contains(position) ? "only after a later position" : "missing"))
            }
            for position in present.subtracting(expectedSet).sorted() {
                differences.append(AuditDifference(source: "kafka", subject: "product \(productId) position \(position)", ledger: "no such event", other: "published"))
            }
        }
        return differences
    }
}
