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
        public var duration: Duration
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
        self.reader = reader
        self.redis = redis
        self.namespace = namespace
        self.limits = limits
        self.logger = logger
    }

    public func replay(verify: Bool = true) async throws -> Report {
        let token = UUID.v7().lowercased
        let lock = ProjectionKeys.replayLock(namespace: namespace)
        let locked = try await redis.command(["SET", RedisArgument(lock), RedisArgument(token), "NX", "EX", "3600"])
        guard !locked.isNull else {
            throw RedisError(code: .server, message: "another replay holds \(lock); wait for it or delete the key if it died")
        }
        do {
            let report = try await replayLocked(verify: verify)
            try await releaseLock(token)
            return report
        } catch {
            try? await releaseLock(token)
            throw error
        }
    }

    private func replayLocked(verify: Bool) async throws -> Report {
        let start = ContinuousClock.now
        let old = try await ProjectionGeneration.read(on: redis, namespace: namespace)
        let new = old.next
        try await drop(new)  // leftovers of a replay that died

        let snapshot = try await reader.snapshot(includingTables: false)
        logger.info("replay: ledger folded", metadata: ["events": "\(snapshot.eventCount)", "elapsed": "\(ContinuousClock.now - start)"])
        let expected = snapshot.expectedProjection()
        var commands = [[RedisArgument]]()
        for (productId, product) in expected {
            commands += product.writeCommands(new.product(productId), chunk: 500)
        }
        if !expected.isEmpty {
            commands.append(["SADD", RedisArgument(new.products)] + expected.keys.sorted().map { RedisArgument($0) })
        }
        try await send(commands)

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
        caughtUp += try await catchUp(new, from: &position)
        try await drop(old)

        var differences = [AuditDifference]()
        if verify {
            let auditor = LedgerAuditor(reader: reader, namespace: namespace, limits: limits)
            differences = try await auditor.redisDifferences(try await reader.snapshot(includingTables: false), redis: redis, waitMs: 10_000)
        }
        return Report(
            generation: new.generation, eventCount: snapshot.eventCount, productCount: expected.count,
            caughtUpEvents: caughtUp, duration: ContinuousClock.now - start, differences: differences)
    }

    /// Applies the events after `position` with the projector's script; returns how many.
    private func catchUp(_ keys: ProjectionKeys, from position: inout Int64) async throws -> Int {
        var count = 0
        while true {
            let events = try await reader.log(after: position, limit: limits.replayPipelineLength)
            guard let last = events.last else { return count }
            _ = try await RedisProjector.apply(events, to: keys, on: redis)
            position = last.position
            count += events.count
        }
    }

    /// Pipelines the commands, a round trip per `replayPipelineLength` commands or ~64k arguments,
    /// so neither side buffers the whole model.
    private func send(_ commands: [[RedisArgument]]) async throws {
        var batch = [[RedisArgument]]()
        var arguments = 0
        for command in commands {
            batch.append(command)
            arguments += command.count
            if batch.count >= limits.replayPipelineLength || arguments >= 65_536 {
                for reply in try await redis.pipeline(batch) { _ = try reply.orThrow() }
                batch.removeAll(keepingCapacity: true)
                arguments = 0
            }
        }
        for reply in try await redis.pipeline(batch) { _ = try reply.orThrow() }
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

    private func releaseLock(_ token: String) async throws {
        try await redis.evaluate(
            RedisScript(name: "release-lock", source: "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"),
            keys: [RedisArgument(ProjectionKeys.replayLock(namespace: namespace))], arguments: [RedisArgument(token)])
    }
}
