import Ledger
import Logging
import ServiceLifecycle

/// Rolls back gate tentatives that never reached the ledger (the request died between the gate
/// and the commit), so their units go back on sale. A tentative counts as abandoned once it is
/// older than `reconcilerTentativeAgeMs` and the ledger has no reservation with its id. If the
/// ledger commits it after all, the projector applies it as a reservation it has not seen.
public final class TentativeReconciler: Service, Sendable {
    private let redis: RedisConnection
    private let namespace: String
    private let reader: LedgerReader
    private let limits: Limits
    private let logger: Logger
    private let clock: @Sendable () -> Timestamp

    public init(
        redis: RedisConnection, namespace: String = ProjectionKeys.defaultNamespace, reader: LedgerReader, limits: Limits = Limits(),
        logger: Logger = Logger(label: "ledger.reconciler"), clock: @escaping @Sendable () -> Timestamp = { .now() }
    ) {
        self.redis = redis
        self.namespace = namespace
        self.reader = reader
        self.limits = limits
        self.logger = logger
        self.clock = clock
    }

    public func run() async throws {
        try await PeriodicService(name: "reconciler", intervalMs: limits.reconcilerIntervalMs, logger: logger) {
            let reverted = try await self.pass()
            if reverted > 0 { self.logger.info("rolled back abandoned tentatives", metadata: ["count": "\(reverted)"]) }
        }.run()
    }

    /// One pass over every product of the live generation; returns how many tentatives it rolled back.
    @discardableResult
    public func pass() async throws -> Int {
        let keys = try await ProjectionGeneration.read(on: redis, namespace: namespace)
        let cutoff = clock().epochMs - limits.reconcilerTentativeAgeMs
        var reverted = 0
        for productId in try await Self.productIds(in: keys, on: redis) {
            let product = keys.product(productId)
            var offset = 0
            while true {
                let reply = try await redis.command([
                    "ZRANGEBYSCORE", RedisArgument(product.tentatives), "-inf", RedisArgument(cutoff),
                    "LIMIT", RedisArgument(offset), RedisArgument(limits.reconcilerBatchSize),
                ])
                let ids = (reply.array ?? []).compactMap(\.string)
                if ids.isEmpty { break }
                // An id that is no reservation id at all cannot be in the ledger either.
                let inLedger = Set(try await reader.existingReservations(ids.compactMap(ReservationID.init)).map(\.text))
                let abandoned = ids.filter { !inLedger.contains($0) }
                let replies = try await redis.evaluate(abandoned.map {
                    RedisScriptCall(ProjectionScripts.rollback, keys: product.arguments, arguments: [RedisArgument($0)])
                })
                for reply in replies { reverted += try reply.orThrow().integer == 1 ? 1 : 0 }
                // Rolled-back ids left the set; the ones the ledger holds stay until projected.
                offset += ids.count - abandoned.count
                if ids.count < limits.reconcilerBatchSize { break }
            }
        }
        return reverted
    }

    static func productIds(in keys: ProjectionKeys, on redis: RedisConnection) async throws -> [Int64] {
        let reply = try await redis.command(["SMEMBERS", RedisArgument(keys.products)])
        return (reply.array ?? []).compactMap(\.integer).sorted()
    }
}
