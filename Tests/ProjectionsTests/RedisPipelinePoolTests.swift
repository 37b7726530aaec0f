import Ledger
import MetricsTestKit
import Projections
import TestSupport
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(3))) struct RedisPipelinePoolTests {
    private static let echo = RedisScript(name: "pool-echo", source: "return ARGV[1]")

    /// Thousands of callers on two connections, pipelines of at most 64: each caller gets the
    /// reply to its own call, answered by the connection threads; the metrics count every call once.
    @Test func everyCallerGetsTheReplyToItsOwnCall() async throws {
        let metrics = TestMetrics()
        let pool = try await RedisPipelinePool.connect(
            url: try TestServices.redisURL(), connections: 2, maxPipelineLength: 64, maxQueueDepth: 10_000, limits: Limits().withoutShedding(),
            metrics: metrics)
        async let running: Void = pool.run()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for call in 0..<5_000 {
                group.addTask {
                    let reply = try await pool.evaluate(RedisScriptCall(Self.echo, keys: [], arguments: [RedisArgument("call-\(call)")]))
                    #expect(reply == .bulk(Array("call-\(call)".utf8)))
                }
            }
            try await group.waitForAll()
        }
        pool.shutdown()
        try await running
        let lengths = try metrics.expectRecorder("redis_pipeline_calls").values
        #expect(lengths.reduce(0, +) == 5_000)
        #expect(lengths.allSatisfy { (1...64).contains($0) })
        #expect(try metrics.expectCounter("redis_pipelines_total").totalValue == Int64(lengths.count))
        #expect(try metrics.expectTimer("redis_pipeline_duration_seconds").values.count == lengths.count)
    }

    /// Calls that queue while the connection is busy are still answered after the shutdown, in
    /// pipelines; a call after it is refused, and `run` returns only once they are answered.
    @Test func shutdownAnswersWhatIsQueuedThenRefuses() async throws {
        let url = try TestServices.redisURL()
        // The pool's only connection is kept busy by a BLPOP that this test releases: its thread
        // waits in hiredis, so every call from the pool must queue behind it.
        let busy = try await RedisConnection.connect(url: url, timeoutMs: 60_000, name: "pool-busy")
        let control = try await RedisConnection.connect(url: url, name: "pool-control")
        let metrics = TestMetrics()
        // No shedding: the calls queue on purpose, and draining them may take longer than the
        // shedding interval on a busy machine.
        let pool = RedisPipelinePool(
            connections: [busy], maxPipelineLength: 8, maxQueueDepth: 1_000, limits: Limits().withoutShedding(), metrics: metrics)
        let client = TestServices.uniqueName("pool-busy")
        let list = RedisArgument(TestServices.uniqueName("pool-release"))
        let key = RedisArgument(TestServices.uniqueName("pool-drain"))
        try await busy.command(["CLIENT", "SETNAME", RedisArgument(client)])
        let blocked = Task { try await busy.command(["BLPOP", list, "0"]) }
        try await waitUntil("the connection waits in BLPOP") {
            let clients = try await control.command(["CLIENT", "LIST"]).string ?? ""
            return clients.split(separator: "\n").contains { $0.contains("name=\(client) ") && $0.contains("cmd=blpop") }
        }

        let incr = RedisScript(name: "pool-incr", source: "return redis.call('INCR', KEYS[1])")
        let answers = Task {
            try await withThrowingTaskGroup(of: RedisReply.self) { group in
                for _ in 0..<100 { group.addTask { try await pool.evaluate(RedisScriptCall(incr, keys: [key], arguments: [])) } }
                return try await group.reduce(into: [RedisReply]()) { $0.append($1) }
            }
        }
        // The first call left for the connection (it waits on its thread); the rest queue.
        try await waitUntil("99 calls queue in the pool") { pool.queueDepth == 99 }
        pool.shutdown()
        let refused = await #expect(throws: RedisError.self) {
            try await pool.evaluate(RedisScriptCall(incr, keys: [key], arguments: []))
        }
        #expect(refused?.code == .closed)
        let returned = Flag()
        let running = Task {
            try await pool.run()
            returned.set()
        }
        try await Task.sleep(for: .milliseconds(200))
        #expect(pool.queueDepth == 99, "nothing is sent while the connection is busy")
        #expect(!returned.isSet, "run waits for the queued calls")

        try await control.command(["RPUSH", list, "go"])
        _ = try await blocked.value
        try await running.value
        #expect(pool.queueDepth == 0)
        let replies = try await answers.value
        #expect(Set(replies) == Set((1...100).map { RedisReply.integer(Int64($0)) }))
        // The first call alone, then the 99 that queued in pipelines of at most 8.
        #expect(try metrics.expectRecorder("redis_pipeline_calls").values == [1] + Array(repeating: 8, count: 12) + [3])
        #expect(try metrics.expectCounter("redis_refused_calls_total", [("reason", "closed")]).totalValue == 1)
        await control.close()
    }

    /// A backlog Redis cannot clear in time is shed by waiting time: calls that waited past the
    /// target are answered `overloaded` without being sent, and only the sent ones ran.
    @Test func aStandingBacklogIsShedAndShedCallsNeverRun() async throws {
        var limits = Limits()
        limits.sheddingTargetMs = 20
        limits.sheddingIntervalMs = 40
        let metrics = TestMetrics()
        let pool = try await RedisPipelinePool.connect(
            url: try TestServices.redisURL(), connections: 1, maxPipelineLength: 8, maxQueueDepth: 1_000, limits: limits, metrics: metrics)
        let key = RedisArgument(TestServices.uniqueName("pool-shed"))
        // Each call spins ~5 ms inside Redis, so a pipeline of 8 takes ~40 ms.
        let slow = RedisScript(
            name: "pool-slow-incr", source: "local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] "
                + "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 5000 return redis.call('INCR', KEYS[1])")
        let outcomes = await withTaskGroup(of: Result<RedisReply, Error>.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    do { return .success(try await pool.evaluate(RedisScriptCall(slow, keys: [key], arguments: []))) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: [Result<RedisReply, Error>]()) { $0.append($1) }
        }
        let ran = outcomes.compactMap { try? $0.get() }
        let shed = outcomes.filter { if case .failure(let error as RedisError) = $0 { return error.code == .overloaded }; return false }
        #expect(ran.count + shed.count == 100, "\(outcomes.filter { (try? $0.get()) == nil })")
        #expect(ran.count >= 9 && shed.count >= 50, "the first pipelines ran, the standing rest was shed: \(ran.count) ran")
        #expect(Set(ran) == Set((1...ran.count).map { RedisReply.integer(Int64($0)) }))
        let control = try await RedisConnection.connect(url: try TestServices.redisURL())
        #expect(try await control.command(["GET", key]).string == String(ran.count), "a shed call never reached Redis")
        #expect(try metrics.expectCounter("redis_refused_calls_total", [("reason", "overloaded")]).totalValue == shed.count)
        await control.close()
        pool.shutdown()
        try await pool.run()
    }

    private func waitUntil(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

private final class Flag: Sendable {
    private let value = Atomic(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
