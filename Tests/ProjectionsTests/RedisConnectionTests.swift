import Projections
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct RedisConnectionTests {
    @Test func pipelineOfTenThousandCommandsReturnsEveryReplyInOrder() async throws {
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let key = RedisArgument(TestServices.uniqueName("pipeline"))
        let replies = try await redis.pipeline(Array(repeating: ["INCR", key], count: 10_000))
        #expect(replies.count == 10_000)
        #expect(replies.map(\.integer) == (1...10_000).map { Int64($0) })
        try await redis.command(["DEL", key])
        await redis.close()
    }

    @Test func argumentsAndRepliesAreBinarySafe() async throws {
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let key = RedisArgument(bytes: Array(TestServices.uniqueName("bin").utf8) + [0, 0xff, 0x20])
        let value = (0...255).map { UInt8($0) } + [0, 0]
        try await redis.command(["SET", key, RedisArgument(bytes: value), "EX", 60])
        #expect(try await redis.command(["GET", key]) == .bulk(value))
        #expect(try await redis.command(["SET", key, "", "EX", 60]) == .status("OK"))
        #expect(try await redis.command(["GET", key]) == .bulk([]))
        #expect(try await redis.command(["GET", RedisArgument(TestServices.uniqueName("absent"))]) == .null)
        await redis.close()
    }

    @Test func errorRepliesThrowAloneAndStayInlineInAPipeline() async throws {
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let key = RedisArgument(TestServices.uniqueName("err"))
        let error = await #expect(throws: RedisError.self) { try await redis.command(["NOSUCHCOMMAND"]) }
        #expect(error?.code == .server)
        #expect(error?.isRetriable == false)
        let replies = try await redis.pipeline([["SET", key, "x", "EX", 60], ["INCR", key], ["GET", key]])
        #expect(replies[0] == .status("OK"))
        guard case .error(let message) = replies[1] else {
            Issue.record("expected an error reply, got \(replies[1])")
            return
        }
        #expect(message.contains("not an integer"))
        #expect(replies[2] == .bulk(Array("x".utf8)))
        await redis.close()
    }

    /// Another client flushing the script cache without pause: every call still runs, once,
    /// however the flushes fall between the connection's EVALSHA and its retry.
    @Test func scriptsRunWhileTheCacheIsFlushedConcurrently() async throws {
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let flusher = try await RedisConnection.connect(url: try TestServices.redisURL())
        let script = RedisScript(name: "incr-by-flushed", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let key = RedisArgument(TestServices.uniqueName("flushed"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled { try await flusher.command(["SCRIPT", "FLUSH"]) }
            }
            for call in 1...300 {
                #expect(try await redis.evaluate(script, keys: [key], arguments: [1]) == .integer(Int64(call)))
            }
            for round in 0..<20 {
                let replies = try await redis.evaluate(script, calls: (1...50).map { _ in (keys: [key], arguments: [1]) })
                #expect(replies.map(\.integer) == (1...50).map { Int64(300 + round * 50 + $0) })
            }
            group.cancelAll()
            try await group.waitForAll()
        }
        try await redis.command(["DEL", key])
        await redis.close()
        await flusher.close()
    }

    @Test func evalshaStillWorksAfterScriptFlush() async throws {
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let other = try await RedisConnection.connect(url: try TestServices.redisURL())
        let script = RedisScript(name: "incr-by", source: "return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let key = RedisArgument(TestServices.uniqueName("script"))
        #expect(try await redis.evaluate(script, keys: [key], arguments: [5]) == .integer(5))
        try await other.command(["SCRIPT", "FLUSH"])
        #expect(try await redis.evaluate(script, keys: [key], arguments: [2]) == .integer(7))
        try await other.command(["SCRIPT", "FLUSH"])
        let pipelined = try await redis.evaluate(script, calls: (1...100).map { _ in (keys: [key], arguments: [1]) })
        #expect(pipelined.map(\.integer) == (8...107).map { Int64($0) })
        try await redis.command(["DEL", key])
        await redis.close()
        await other.close()
    }

    /// Script hashes are cached by name; a second script under the same name still runs itself.
    @Test func twoScriptsWithOneNameEachRunTheirOwnSource() async throws {
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let first = RedisScript(name: "answer", source: "return 1")
        let second = RedisScript(name: "answer", source: "return 2")
        #expect(try await redis.evaluate(first, keys: [], arguments: []) == .integer(1))
        #expect(try await redis.evaluate(second, keys: [], arguments: []) == .integer(2))
        #expect(try await redis.evaluate(first, keys: [], arguments: []) == .integer(1))
        await redis.close()
    }

    @Test func reconnectsAfterTheServerDropsTheConnection() async throws {
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let admin = try await RedisConnection.connect(url: try TestServices.redisURL())
        let name = TestServices.uniqueName("victim")
        try await redis.command(["CLIENT", "SETNAME", RedisArgument(name)])
        let id = try await redis.command(["CLIENT", "ID"]).integer!
        #expect(try await admin.command(["CLIENT", "KILL", "ID", RedisArgument(id)]) == .integer(1))
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await redis.command(["PING"]) == .status("PONG"))
        #expect(try await redis.command(["CLIENT", "ID"]).integer != id)
        await redis.close()
        await admin.close()
    }

    @Test func urlsAreParsedAndBadOnesRefused() async throws {
        await #expect(throws: RedisError.self) { _ = try await RedisConnection.connect(url: "http://localhost:6379") }
        await #expect(throws: RedisError.self) { _ = try await RedisConnection.connect(url: "redis://localhost:notaport") }
        let error = await #expect(throws: RedisError.self) {
            _ = try await RedisConnection.connect(url: "redis://:hunter2@127.0.0.1:1/0", timeoutMs: 500)
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isRetriable == true)
        #expect(!String(describing: error).contains("hunter2"))
    }
}
