import Foundation
import Ledger
import Logging

/// Rebuilds the Redis read model from the PostgreSQL ledger (the complete history; the topic
/// may have retention limits) into a new key generation while the live one keeps serving:
///
/// 1. fold every event, write the resulting model into generation N+1 (pipelined HSETs);
/// 2. catch up with events appended meanwhile through the projector's own `apply` script;
/// 3. switch `ledger:generation` to N+1 (compare-and-set), wait for every reader's cached
///    generation to expire, catch up again (events the projector applied to N meanwhile);
/// 4. drop generation N and verify N+1 against a fresh fold.
public struct ProjectionReplayer: Sendable {
    public struct Report: Sendable {
        public var generation: Int64
        public var eventCount: Int
        public var productCount: Int
        public var caughtUpEvents: Int
        /// The ledger position the rebuilt model includes every event up to.
        public var position: Int64
        /// From the start to the old generation dropped (fold, write, catch-up, switch, grace).
        public var rebuildDuration: Duration
        public var verifyDuration: Duration
        public var differences: [AuditDifference]
    }

    static let switchScript = RedisScript(name: "switch-generation", source: """
        if tonumber(redis.call('GET', KEYS[1]) or '1') ~= tonumber(ARGV[1]) then return 0 end
        redis.call('SET', KEYS[1], ARGV[2])
        return 1
        """)

    private let reader: LedgerReader
    private let redis: RedisConnection
    private let namespace: String
    private let limits: Limits
    private let logger: Logger

    public init(
        reader: LedgerReader, redis: RedisConnection, namespace: String = ProjectionKeys.defaultNamespace, limits: Limits = Limits(),
        logger: Logger = Logger(label: "ledger.replay")
    ) {
        precondition(limits.replaySwitchGraceMs > limits.generationRefreshMs, "the grace must outlast every cached generation")
        self.reader = reader
        self.redis = redis
        self.namespace = namespace
        self.limits = limits
        self.logger = logger
    }

    public func replay(verify: Bool = true) async throws -> Report {
        let token = UUID.v7().lowercased
        let lock = ProjectionKeys.replayLock(namespace: namespace)
        let locked = try await redis.command(["SET", RedisArgument(lock), RedisArgument(token), "NX", "EX", RedisArgument(limits.replayLockSeconds)])
        guard !locked.isNull else {
            throw RedisError(code: .server, message: "another replay holds \(lock); wait for it or delete the key if it died")
        }
        do {
            // The lock is renewed on a heartbeat as well as at each step: a step (folding a large
            // ledger) may take longer than the lock lives, and a short-lived lock is what lets
            // another node take over soon after this one is killed mid-rebuild.
            let report = try await withThrowingTaskGroup(of: Report?.self) { group in
                group.addTask { try await self.replayLocked(verify: verify, token: token) }
                group.addTask {
                    while true {
                        try await Task.sleep(for: .milliseconds(self.limits.replayLockRenewMs))
                        try await self.renewLock(token)
                    }
                }
                defer { group.cancelAll() }
                while let finished = try await group.next() {
                    if let finished { return finished }
                }
                preconditionFailure("the replay ends the group")
            }
            try await releaseLock(token)
            return report
        } catch {
            try? await releaseLock(token)
            throw error
        }
    }

    /// Renews the lock at each step too (before switching generations, a lapsed lock stops it).
    private func replayLocked(verify: Bool, token: String) async throws -> Report {
        let start = ContinuousClock.now
        let old = try await ProjectionGeneration.read(on: redis, namespace: namespace)
        let new = old.next
        try await drop(new)  // leftovers of a replay that died

        let snapshot = try await reader.foldLog(pageSize: limits.replayPageSize)
        try await renewLock(token)
        logger.info("replay: ledger folded", metadata: ["events": "\(snapshot.eventCount)", "elapsed": "\(ContinuousClock.now - start)"])
        let commandCount = try await write(snapshot, into: new)
        try await renewLock(token)
        logger.info("replay: read model written", metadata: ["commands": "\(commandCount)", "elapsed": "\(ContinuousClock.now - start)"])

        var position = snapshot.head
        var caughtUp = try await catchUp(new, from: &position)
        guard try await redis.evaluate(
            Self.switchScript, keys: [RedisArgument(ProjectionKeys.generationPointer(namespace: namespace))],
            arguments: [RedisArgument(old.generation), RedisArgument(new.generation)]
        ).integer == 1 else {
            try await drop(new)
            throw RedisError(code: .server, message: "the live generation changed during the replay; nothing was switched")
        }
        logger.info("replay: switched generation", metadata: ["from": "\(old.generation)", "to": "\(new.generation)"])
        try await Task.sleep(for: .milliseconds(limits.replaySwitchGraceMs))
        try await renewLock(token)
        caughtUp += try await catchUp(new, from: &position)
        try await drop(old)

        let rebuilt = ContinuousClock.now
        var differences = [AuditDifference]()
        if verify {
            let auditor = LedgerAuditor(reader: reader, namespace: namespace, limits: limits)
            differences = try await auditor.redisDifferences(try await reader.snapshot(includingTables: false), redis: redis, waitMs: 10_000)
        }
        return Report(
            generation: new.generation, eventCount: snapshot.eventCount, productCount: snapshot.folded.products.count,
            caughtUpEvents: caughtUp, position: position, rebuildDuration: rebuilt - start,
            verifyDuration: ContinuousClock.now - rebuilt, differences: differences)
    }

    /// Applies the events after `position` with the projector's script; returns how many.
    private func catchUp(_ keys: ProjectionKeys, from position: inout Int64) async throws -> Int {
        var count = 0
        while true {
            let events = try await reader.log(after: position, limit: limits.replayPipelineLength)
            guard let last = events.last else { return count }
            _ = try await RedisProjector.apply(
                try events.map { ProjectableEvent(position: $0.position, event: try $0.decoded()) }, to: keys, on: redis,
                eventsPerCall: limits.projectorEventsPerScriptCall)
            position = last.position
            count += events.count
        }
    }

    /// Writes the model of `snapshot` with pipelined HSETs of up to 500 fields: a round trip per
    /// `replayPipelineLength` commands or ~64k arguments, the next batch built while the previous
    /// one is on the wire.
    private func write(_ snapshot: LedgerSnapshot, into keys: ProjectionKeys) async throws -> Int {
        let redis = self.redis
        let fieldsPerCommand = 500
        return try await withThrowingTaskGroup(of: Void.self) { inFlight in
            var count = 0
            var batch = [[RedisArgument]]()
            var arguments = 0
            func flush() async throws {
                try await inFlight.next()  // at most one batch on the wire
                let sending = batch
                inFlight.addTask {
                    for reply in try await redis.pipeline(sending) { _ = try reply.orThrow() }
                }
                batch = []
                arguments = 0
            }
            func close(_ command: [RedisArgument]) async throws {
                batch.append(command)
                arguments += command.count
                count += 1
                if batch.count >= limits.replayPipelineLength || arguments >= limits.replayPipelineArguments { try await flush() }
            }
            // Commands are built on one task (a core) while this one sends them (Redis, the other).
            let (commands, output) = AsyncStream<[RedisArgument]>.makeStream()
            async let built: Void = Self.buildCommands(snapshot, into: keys, fieldsPerCommand: fieldsPerCommand, output)
            for await command in commands { try await close(command) }
            await built
            let products = snapshot.folded.products.keys.sorted()
            if !products.isEmpty { try await close(["SADD", RedisArgument(keys.products)] + products.map { RedisArgument($0) }) }
            try await flush()
            try await inFlight.waitForAll()
            return count
        }
    }

    private static func buildCommands(
        _ snapshot: LedgerSnapshot, into keys: ProjectionKeys, fieldsPerCommand: Int, _ output: AsyncStream<[RedisArgument]>.Continuation
    ) async {
        var open = [HashKey: [RedisArgument]]()
        snapshot.forEachExpectedField { productId, hash, field, value in
            let key = HashKey(productId: productId, hash: hash)
            if open[key] == nil { open[key] = ["HSET", RedisArgument(hash.key(keys.product(productId)))] }
            open[key]!.append(RedisArgument(field))
            open[key]!.append(RedisArgument(value))
            if open[key]!.count >= 2 + 2 * fieldsPerCommand { output.yield(open.removeValue(forKey: key)!) }
        }
        for command in open.values { output.yield(command) }
        output.finish()
    }

    private struct HashKey: Hashable {
        let productId: Int64
        let hash: ProjectionHash
    }

    /// Deletes every key of a generation (SCAN + UNLINK: no long blocking command).
    private func drop(_ keys: ProjectionKeys) async throws {
        var cursor = "0"
        repeat {
            let reply = try await redis.command(["SCAN", RedisArgument(cursor), "MATCH", RedisArgument(keys.pattern), "COUNT", "1000"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string, let found = parts[1].array else {
                throw RedisError(code: .unexpectedReply, message: "SCAN answered \(reply)")
            }
            let names = found.compactMap(\.string).map { RedisArgument($0) }
            if !names.isEmpty { try await redis.command(["UNLINK"] + names) }
            cursor = next
        } while cursor != "0"
    }

    /// Extends the lock while `token` still holds it; throws when it lapsed (another replay may
    /// have started: this one must not switch generations under it).
    private func renewLock(_ token: String) async throws {
        let renewed = try await redis.evaluate(
            RedisScript(name: "renew-lock", source: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0"),
            keys: [RedisArgument(ProjectionKeys.replayLock(namespace: namespace))],
            arguments: [RedisArgument(token), RedisArgument(limits.replayLockSeconds)])
        guard renewed.integer == 1 else {
            throw RedisError(code: .server, message: "the replay's lock lapsed (not renewed within \(limits.replayLockSeconds) s); nothing was switched")
        }
    }

    private func releaseLock(_ token: String) async throws {
        try await redis.evaluate(
            RedisScript(name: "release-lock", source: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"),
            keys: [RedisArgument(ProjectionKeys.replayLock(namespace: namespace))], arguments: [RedisArgument(token)])
    }
}
