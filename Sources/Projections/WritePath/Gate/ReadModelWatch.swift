import Ledger
import Logging
import ServiceLifecycle

/// Checks, on every node, that Redis still holds the read model, and probes Redis for the gate's
/// breaker. The live-generation pointer marks a model: a node that starts on an empty ledger
/// writes it, a replay's switch writes it, and a Redis restarted without its data comes back
/// without it. Each pass:
///
/// * pointer present: the model is there; an open breaker whose probe is due closes.
/// * pointer missing, ledger empty: an empty model is complete; write the pointer.
/// * pointer missing, ledger not empty: the model was lost. Hold the breaker open (reservations
///   go to the ledger alone) and rebuild it with a replay; the replay's lock lets one node do it
///   while the others wait for the pointer to reappear.
/// * Redis not answering: the probe failed; the breaker stays open.
public struct ReadModelWatch: Service {
    private let redis: RedisConnection
    private let reader: LedgerReader
    private let replayer: ProjectionReplayer
    private let breaker: GateBreaker
    private let namespace: String
    private let limits: Limits
    private let logger: Logger

    /// `redis` and `reader` are the watch's own connections (the replayer has its own too);
    /// `redis` should time out after `redisRequestTimeoutMs`, so a frozen Redis fails a probe.
    public init(
        redis: RedisConnection, reader: LedgerReader, replayer: ProjectionReplayer, breaker: GateBreaker, namespace: String, limits: Limits,
        logger: Logger = Logger(label: "ledger.read-model")
    ) {
        self.redis = redis
        self.reader = reader
        self.replayer = replayer
        self.breaker = breaker
        self.namespace = namespace
        self.limits = limits
        self.logger = logger
    }

    public func run() async throws {
        try await PeriodicService(name: "read-model watch", intervalMs: limits.readModelCheckIntervalMs, logger: logger) { await check() }.run()
    }

    /// Marks the model of an empty ledger, so that a node starting on one never rebuilds; a
    /// node calls it once before it serves.
    public func markIfLedgerEmpty() async throws {
        if try await hasModel() { return }
        if try await reader.log(after: 0, limit: 1).isEmpty { try await markModel() }
    }

    /// One pass (see the type's comment). Never throws: a Redis that does not answer is what the
    /// breaker is for, and a failed rebuild is tried again next pass.
    func check() async {
        let probing = breaker.wantsProbe()
        do {
            if try await hasModel() {
                if probing { breaker.probeSucceeded() }
                breaker.release(reason: "the read model is back")
                return
            }
            if try await reader.log(after: 0, limit: 1).isEmpty {
                try await markModel()
                return
            }
            breaker.holdOpen(reason: "Redis holds no read model (restarted without its data?); rebuilding it from the ledger")
            let lock = ProjectionKeys.replayLock(namespace: namespace)
            guard try await redis.command(["EXISTS", RedisArgument(lock)]).integer == 0 else { return }  // another node rebuilds
            let report: ProjectionReplayer.Report
            do {
                report = try await replayer.replay(verify: false)
            } catch {
                logger.warning("read-model rebuild failed; trying again", metadata: ["error": "\(error)"])
                return
            }
            logger.notice("read model rebuilt from the ledger", metadata: [
                "generation": "\(report.generation)", "events": "\(report.eventCount)", "elapsed": "\(report.rebuildDuration)",
            ])
            breaker.release(reason: "the read model is rebuilt")
        } catch {
            if probing { breaker.probeFailed() }
            logger.debug("read-model check failed", metadata: ["error": "\(error)"])
        }
    }

    private func hasModel() async throws -> Bool {
        try await redis.command(["EXISTS", RedisArgument(ProjectionKeys.generationPointer(namespace: namespace))]).integer == 1
    }

    private func markModel() async throws {
        _ = try await redis.command(["SET", RedisArgument(ProjectionKeys.generationPointer(namespace: namespace)), "1", "NX"])
    }
}
