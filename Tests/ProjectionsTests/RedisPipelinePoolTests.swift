import Projections
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct RedisPipelinePoolTests {
    private static let echo = RedisScript(name: "pool-echo", source: "return ARGV[1]")

    /// Thousands of callers on two connections, pipelines of at most 64: each caller gets the
    /// reply to its own call, answered by the connection threads.
    @Test func everyCallerGetsTheReplyToItsOwnCall() async throws {
        let pool = try await RedisPipelinePool.connect(url: try TestServices.redisURL(), connections: 2, maxPipelineLength: 64, maxQueueDepth: 10_000)
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
    }

    /// Calls queued before the shutdown are still answered; a call after it is refused, and
    /// `run` returns.
    @Test func shutdownAnswersWhatIsQueuedThenRefuses() async throws {
        let pool = try await RedisPipelinePool.connect(url: try TestServices.redisURL(), connections: 1, maxPipelineLength: 8, maxQueueDepth: 1_000)
        let key = RedisArgument(TestServices.uniqueName("pool-drain"))
        let incr = RedisScript(name: "pool-incr", source: "return redis.call('INCR', KEYS[1])")
        let answers = Task {
            try await withThrowingTaskGroup(of: RedisReply.self) { group in
                for _ in 0..<100 { group.addTask { try await pool.evaluate(RedisScriptCall(incr, keys: [key], arguments: [])) } }
                return try await group.reduce(into: [RedisReply]()) { $0.append($1) }
            }
        }
        // Nothing runs the queue yet: wait until every call waits in it.
        let deadline = ContinuousClock.now + .seconds(30)
        while pool.queueDepth < 100 {
            #expect(ContinuousClock.now < deadline, "only \(pool.queueDepth) of 100 calls were queued")
            guard ContinuousClock.now < deadline else { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        pool.shutdown()
        try await pool.run()
        let replies = try await answers.value
        #expect(Set(replies) == Set((1...100).map { RedisReply.integer(Int64($0)) }))
        let refused = await #expect(throws: RedisError.self) {
            try await pool.evaluate(RedisScriptCall(incr, keys: [key], arguments: []))
        }
        #expect(refused?.code == .closed)
    }
}
