import API
import Foundation
import HTTPTypes
import HummingbirdTesting
import Ledger
import Projections
import TestSupport
import Testing

/// `ledger serve` while the PostgreSQL every suite shares is shut down (immediate: no
/// checkpoint, crash recovery at start) and kept down for a few seconds, or frozen, mid-sale. The name ends
/// in `ServerRestartTests`, so `make test` runs it alone, after the suites that need PostgreSQL.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ServedNodeServerRestartTests {
    let node = ServerProcessTests()

    /// Also: the read model that serves product reads during the outage lacks a restock (its
    /// copy of product 1's stock is lowered below zero, as if the relay had not published the
    /// restock before PostgreSQL went down). An attempt must then get 503, never a sold-out the
    /// ledger did not say.
    @Test func aPostgresOutageMidSaleAnswers503AndWritesResumeWithoutRestartingTheNode() async throws {
        try await node.withSetup { setup in
            try await node.withFaultMidSale(setup, log: "postgres-outage") { answers, _ in
                // The projector's first group join takes a few seconds; the read below needs the listing in Redis.
                let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
                let keys = ProjectionKeys(namespace: setup.namespace, generation: 1).product(1)
                let projected = try await eventually(timeout: .seconds(30)) { try await !ProjectedProduct.readConfig(keys, on: redis).isEmpty }
                #expect(projected, "the listing reached Redis")
                let authority = try await TokenAuthority(secret: ServerProcessTests.secret)
                var tokens = [String]()
                for user in 9_000..<9_030 { tokens.append(try await authority.token(userId: Int64(user), admin: false, ttlSeconds: 600)) }

                let stoppedAt = ContinuousClock.now
                async let restart: Void = TestServices.servicesScript("restart-postgres", "--immediate", "--down-seconds", "4")
                let lag = "2000000"
                try await redis.command(["HINCRBY", RedisArgument(keys.config), "available", RedisArgument("-" + lag)])
                // Past the product cache's TTL, with the database down: the read model answers.
                try await Task.sleep(for: .seconds(2))
                let read = try await TestClient.withClient(host: "127.0.0.1", port: setup.port) { try await $0.get("/v1/products/1") }
                #expect(read.head.status == .ok, "a product read is served from Redis while PostgreSQL is down: \(read.body.map { String(buffer: $0) } ?? "")")
                // Attempts until 3.5 s into the 4 s outage, each from its own user: the node
                // reloads the product (TTL 1 s) from the read model meanwhile.
                var statuses = [HTTPResponse.Status]()
                for token in tokens where ContinuousClock.now - stoppedAt < .milliseconds(3_500) {
                    let attempt = try await TestClient.withClient(host: "127.0.0.1", port: setup.port) { client in
                        try await node.send(client, .post, "/v1/seckill", token: token, body: #"{"productId":1,"quantity":1}"#)
                    }
                    statuses.append(attempt.head.status)
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(statuses.count >= 10 && statuses.allSatisfy { $0 == .serviceUnavailable }, "a copy behind the ledger is no sold-out: \(statuses.map(\.code))")
                try await redis.command(["HINCRBY", RedisArgument(keys.config), "available", RedisArgument(lag)])
                await redis.close()
                try await restart
                let restartedAt = ContinuousClock.now
                let resumed = try await eventually(timeout: .seconds(30)) { answers.created(between: restartedAt, and: .now) > 0 }
                #expect(resumed, "writes resume on the same node once PostgreSQL is back")
                #expect(ContinuousClock.now - restartedAt < .seconds(10), "writes resumed \(ContinuousClock.now - restartedAt) after PostgreSQL was back")
                try await Task.sleep(for: .seconds(2))
                return (stoppedAt, restartedAt)
            } judge: { outage, answers in
                let during = answers.all.withLock { $0.filter { $0.startedAt >= outage.0 && $0.startedAt < outage.1 } }
                let refused = during.filter { $0.status == .serviceUnavailable }
                #expect(!refused.isEmpty, "requests during the outage are refused 503")
                #expect(refused.allSatisfy { $0.retryAfter != nil }, "with Retry-After")
                let slowest = answers.all.withLock { $0.map(\.duration).max() ?? .zero }
                #expect(slowest <= .seconds(5), "every request answered within 5 s during the outage: the slowest took \(slowest)")
            }
        }
    }

    /// The longest a request may wait on a frozen database: the batch in flight when it came
    /// gives up after `postgresAnswerTimeoutMs`, the next one's reconnect after
    /// `postgresConnectTimeoutSeconds`, and the box is busy.
    static let frozenPostgresAnswerBound =
        Duration.milliseconds(Limits().postgresAnswerTimeoutMs) + .seconds(Limits().postgresConnectTimeoutSeconds) + .seconds(1)

    @Test func aFrozenPostgresIsAnswered503WithinTheBoundAndTheNodeRecoversByItself() async throws {
        try await node.withSetup { setup in
            try await node.withFaultMidSale(setup, log: "postgres-frozen") { answers, _ in
                try await TestServices.servicesScript("freeze-postgres")
                let frozenAt = ContinuousClock.now
                do {
                    try await Task.sleep(for: .seconds(8))
                } catch {
                    try await TestServices.servicesScript("thaw-postgres")
                    throw error
                }
                try await TestServices.servicesScript("thaw-postgres")
                let thawedAt = ContinuousClock.now
                let resumed = try await eventually(timeout: .seconds(30)) { answers.created(between: thawedAt, and: .now) > 0 }
                #expect(resumed, "writes resume on the same node once PostgreSQL answers again")
                try await Task.sleep(for: .seconds(2))
                return (frozenAt, thawedAt)
            } judge: { freeze, answers in
                let frozen = answers.all.withLock { $0.filter { $0.startedAt >= freeze.0 + .seconds(1) && $0.startedAt < freeze.1 } }
                #expect(frozen.contains { $0.status == .serviceUnavailable }, "requests during the freeze are refused 503")
                #expect(frozen.allSatisfy { $0.status != .serviceUnavailable || $0.retryAfter != nil }, "with Retry-After")
                let slowest = answers.all.withLock { $0.map(\.duration).max() ?? .zero }
                #expect(slowest <= Self.frozenPostgresAnswerBound, "every request answered within \(Self.frozenPostgresAnswerBound): the slowest took \(slowest)")
            }
        }
    }
}
