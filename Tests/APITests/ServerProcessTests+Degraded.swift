import API
import Foundation
import HTTPTypes
import HummingbirdTesting
import Ledger
import LoadGenerator
import NIOCore
import Projections
import Synchronization
import TestSupport
import Testing

/// `ledger serve` on a Redis of the test's own, frozen (SIGSTOP) or killed and restarted empty
/// mid-sale: the node keeps selling through the ledger alone, answers every request within a
/// bound, rebuilds a lost read model, and every copy agrees with the ledger afterwards.
extension ServerProcessTests {
    /// Every answer of the degraded-mode load: when it started, how long it took, its status.
    final class Answers: Sendable {
        struct Answer: Sendable {
            let startedAt: ContinuousClock.Instant
            let duration: Duration
            let status: HTTPResponse.Status?
            let retryAfter: String?
        }

        let all = Mutex<[Answer]>([])
        let ids = Mutex<[String]>([])
        let stopped = Atomic<Bool>(false)

        func created(between start: ContinuousClock.Instant, and end: ContinuousClock.Instant) -> Int {
            all.withLock { $0.count { $0.status == .created && $0.startedAt >= start && $0.startedAt < end } }
        }
    }

    /// The longest a request may take while Redis is frozen: a gate call gives up after
    /// `redisRequestTimeoutMs`, a reconnect to a frozen server after as long again; the rest is
    /// the ledger's commit on a busy box.
    static let frozenRedisAnswerBound = Duration.milliseconds(2 * Limits().redisRequestTimeoutMs) + .seconds(1)

    /// A big sale (product 1) that stays open through the fault, and a small one (product 2, 60
    /// units, one per user) that sells out during it.
    func listDegradedSales(_ setup: Setup) async throws {
        try await listSale(setup, stock: 1_000_000, limitPerUser: 1_000)
        try await listSale(setup, stock: 60, productId: 2, limitPerUser: 1)
    }

    /// 16 connections reserving for 2,000 users, a fifth of them the small sale, until `stopped`.
    func degradedLoad(_ setup: Setup, into answers: Answers) async throws {
        let authority = try await TokenAuthority(secret: Self.secret)
        var tokens = [String]()
        for user in 2...2_001 { tokens.append(try await authority.token(userId: Int64(user), admin: false, ttlSeconds: 600)) }
        let userTokens = tokens
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    while !answers.stopped.load(ordering: .relaxed) {
                        let product = Int.random(in: 0..<5) == 0 ? 2 : 1
                        let startedAt = ContinuousClock.now
                        // A connection per request: one stuck answer must not hide the next.
                        let response = try? await TestClient.withClient(host: "127.0.0.1", port: setup.port) { client in
                            try await send(client, .post, "/v1/seckill", token: userTokens.randomElement()!, body: #"{"productId":\#(product),"quantity":1}"#)
                        }
                        answers.all.withLock {
                            $0.append(.init(
                                startedAt: startedAt, duration: .now - startedAt, status: response?.head.status,
                                retryAfter: response?.head.headerFields[.retryAfter]))
                        }
                        if let response, let id = Self.reservationId(of: response) { answers.ids.withLock { $0.append(id) } }
                    }
                }
            }
        }
    }

    /// `/ready`'s body, nil when it does not answer 200.
    static func readiness(_ setup: Setup) async -> [String: String]? {
        try? await TestClient.withClient(host: "127.0.0.1", port: setup.port) { client in
            let response = try await client.get("/ready")
            guard response.head.status == .ok, let body = response.body else { return nil }
            return try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: String]
        }
    }

    /// After the load: every acknowledged reservation in the ledger, the small sale sold out
    /// exactly, tables, Redis and the topic equal to the ledger's fold.
    /// The Redis and the Kafka brokers are the setup's (the test's own ones when it has them).
    func checkAfterFault(_ setup: Setup, _ answers: Answers) async throws {
        let redisURL = try #require(setup.environment["LEDGER_REDIS_URL"]), brokers = try #require(setup.environment["LEDGER_KAFKA_BROKERS"])
        let connection = try await PostgresConnection.connect(url: setup.databaseURL)
        let reader = LedgerReader(connection: connection)
        let ids = answers.ids.withLock { $0 }
        var missing = 0
        for id in ids where try await reader.reservation(try #require(ReservationID(id))) == nil { missing += 1 }
        #expect(missing == 0, "every acknowledged reservation of \(ids.count) is in the ledger")
        let small = try #require(try await reader.product(2))
        #expect(small.reservedUnits <= 60, "never more than the stock")
        #expect(small.reservedUnits == 60, "demand far above the stock sells it out")
        let redis = try await RedisConnection.connect(url: redisURL)
        let audit = try await auditor(setup, connection).audit(
            redis: redis, kafka: .init(configuration: KafkaConfiguration(brokers: brokers), topic: setup.topic),
            projectionWaitMs: 30_000)
        #expect(audit.differences.isEmpty, "\(audit.differences.count) differences, first: \(audit.differences.prefix(5))")
        await redis.close()
        await connection.close()
    }

    /// `withSetup` with a Redis of the test's own (stopped afterwards, whatever happened).
    func withPrivateRedis(_ body: @escaping @Sendable (Setup, RedisServerProcess) async throws -> Void) async throws {
        let redis = try await RedisServerProcess.start()
        do {
            try await withSetup { shared in try await body(shared.with(redisURL: redis.url), redis) }
        } catch {
            try await redis.stop()
            throw error
        }
        try await redis.stop()
    }

    /// A node on `setup`, the two sales listed and the load running; `fault` gets them once the
    /// load has answers and returns (with whatever times it marked) when the load may stop.
    /// Then the checks every fault shares, the fault's own (`judge`, on the whole history), the
    /// ledger and its copies against the history, and the node is stopped with SIGTERM.
    func withFaultMidSale<Marks: Sendable>(
        _ setup: Setup, log: String, fault: @escaping @Sendable (Answers, ChildProcess) async throws -> Marks,
        judge: @escaping @Sendable (Marks, Answers) -> Void = { _, _ in }
    ) async throws {
        let server = try await start(setup, log: log)
        try await listDegradedSales(setup)
        let answers = Answers()
        async let loading: Void = degradedLoad(setup, into: answers)
        let started = try await eventually(timeout: .seconds(60)) { answers.ids.withLock { $0.count } >= 40 }
        #expect(started, "the load got answers before the fault")
        let marks = try await fault(answers, server)
        answers.stopped.store(true, ordering: .relaxed)
        try await loading
        let unanswered = answers.all.withLock { $0.count { $0.status == nil || $0.status == .internalServerError } }
        #expect(unanswered == 0, "no request went unanswered or got a 500")
        judge(marks, answers)
        try await checkAfterFault(setup, answers)
        server.signal(SIGTERM)
        #expect(try await server.waitForExit() == 0)
    }

    /// `withFaultMidSale` on a Redis of the test's own, which the fault acts on.
    func withDegradedSale(
        log: String, _ fault: @escaping @Sendable (Setup, RedisServerProcess, Answers, ChildProcess) async throws -> Void
    ) async throws {
        try await withPrivateRedis { setup, redis in
            try await withFaultMidSale(setup, log: log) { answers, server in try await fault(setup, redis, answers, server) }
        }
    }

    @Test func aFrozenRedisDegradesTheNodeWhichKeepsSellingAndAnswersInBound() async throws {
        try await withDegradedSale(log: "redis-frozen") { setup, redis, answers, _ in
            redis.freeze()
            let frozenAt = ContinuousClock.now
            let degraded = try await eventually(timeout: .seconds(10)) {
                let ready = await Self.readiness(setup)
                return ready?["status"] == "degraded" && ready?["redis"] == "down" && ready?["gate"] == "open"
            }
            #expect(degraded, "/ready answers 200 degraded, Redis down, the gate's breaker open")
            try await Task.sleep(for: .seconds(6))
            redis.thaw()
            let thawedAt = ContinuousClock.now
            let recovered = try await eventually(timeout: .seconds(15)) { await Self.readiness(setup)?["status"] == "ready" }
            #expect(recovered, "the breaker closes once Redis answers again")
            try await Task.sleep(for: .seconds(2))

            #expect(answers.created(between: frozenAt + .seconds(2), and: thawedAt) > 0, "reservations commit while Redis is frozen")
            let slowest = answers.all.withLock { $0.map(\.duration).max() ?? .zero }
            #expect(slowest <= Self.frozenRedisAnswerBound, "every request answered within \(Self.frozenRedisAnswerBound): the slowest took \(slowest)")
            #expect(answers.created(between: thawedAt + .seconds(1), and: .now) > 0, "the gate serves again after the thaw")
        }
    }

    @Test func aRedisRestartedEmptyIsRebuiltFromTheLedgerWhileTheNodeKeepsSelling() async throws {
        try await withDegradedSale(log: "redis-empty") { setup, redis, answers, server in
            let restartedAt = ContinuousClock.now
            try await redis.restartEmpty()
            let rebuilt = try await eventually(timeout: .seconds(30)) {
                guard let connection = try? await RedisConnection.connect(url: redis.url) else { return false }
                let pointer = try? await connection.command(["GET", RedisArgument(ProjectionKeys.generationPointer(namespace: setup.namespace))])
                await connection.close()
                return pointer?.integer.map { $0 > 1 } == true
            }
            #expect(rebuilt, "the node rebuilt the read model into a new generation")
            let recovered = try await eventually(timeout: .seconds(15)) { await Self.readiness(setup)?["status"] == "ready" }
            #expect(recovered, "the breaker closes after the rebuild")
            let closedAt = ContinuousClock.now
            try await Task.sleep(for: .seconds(2))

            #expect(answers.created(between: restartedAt, and: closedAt) > 0, "reservations commit while the model is missing")
            #expect(answers.created(between: closedAt, and: .now) > 0, "and through the gate after")
            #expect(server.output.components(separatedBy: "read model rebuilt from the ledger").count == 2, "rebuilt once")
        }
    }

    /// `ledger status` tells a missing read model (a Redis that lost its data, no node yet
    /// rebuilt it) from a live one.
    @Test func ledgerStatusSaysWhenTheReadModelIsMissing() async throws {
        try await withSetup { setup in
            let server = try await start(setup, log: "status-model")
            try await listSale(setup, stock: 10)
            server.signal(SIGTERM)
            #expect(try await server.waitForExit() == 0)
            @Sendable func status() async throws -> String {
                let result = try await TestServices.run(
                    "/usr/bin/env", setup.environment.map { "\($0)=\($1)" } + [try TestServices.variable("LEDGER_BIN"), "status"])
                #expect(result.status == 0, "\(result.output)")
                return result.output
            }
            #expect(try await status().contains("live generation 1"), "the node marked the model it started on an empty ledger")
            try await ProjectionFixture.delete(namespace: setup.namespace, url: try TestServices.redisURL())
            #expect(try await status().contains("read model missing"))
        }
    }

    /// A node (re)started while Redis is down starts degraded instead of refusing to start, sells
    /// through the ledger alone, and builds the read model once Redis comes (empty).
    @Test func aNodeStartedWhileRedisIsDownSellsDegradedUntilRedisComes() async throws {
        try await withPrivateRedis { setup, redis in
            try await redis.stop()
            let server = try await start(setup, log: "redis-absent")
            let ready = await Self.readiness(setup)
            #expect(ready?["status"] == "degraded" && ready?["redis"] == "down", "\(ready ?? [:])")
            try await listSale(setup, stock: 5, limitPerUser: 1)
            let authority = try await TokenAuthority(secret: Self.secret)
            var statuses = [HTTPResponse.Status]()
            for user in Int64(2)...8 {
                let token = try await authority.token(userId: user, admin: false, ttlSeconds: 600)
                statuses.append(try await TestClient.withClient(host: "127.0.0.1", port: setup.port) {
                    try await send($0, .post, "/v1/seckill", token: token, body: #"{"productId":1,"quantity":1}"#).head.status
                })
            }
            #expect(statuses.count { $0 == .created } == 5 && statuses.count { $0 == .conflict } == 2, "the ledger alone sells exactly the stock: \(statuses)")

            try await redis.restartEmpty()
            let recovered = try await eventually(timeout: .seconds(30)) { await Self.readiness(setup)?["status"] == "ready" }
            #expect(recovered, "the node uses Redis once it answers, with the model built from the ledger")
            let connection = try await PostgresConnection.connect(url: setup.databaseURL)
            let redisConnection = try await RedisConnection.connect(url: redis.url)
            let audit = try await auditor(setup, connection).audit(redis: redisConnection, kafka: nil, projectionWaitMs: 30_000)
            #expect(audit.differences.isEmpty, "\(audit.differences.prefix(5))")
            await redisConnection.close()
            await connection.close()
            server.signal(SIGTERM)
            #expect(try await server.waitForExit() == 0)
        }
    }

    /// The Kafka brokers (a `ledger kafka-dev` of the test's own) frozen mid-sale: writes go on,
    /// the relay delivers nothing meanwhile and its lag shows in `/metrics`, `/ready` says Kafka
    /// is down, and after the thaw the relay catches up: the topic holds every position in order.
    @Test func frozenKafkaBrokersLetWritesGoOnAndTheRelayCatchesUpAfterwards() async throws {
        try await withSetup { shared in
            let kafka = try await KafkaDevProcess.start(topic: shared.topic, partitions: 6)
            do {
                try await withFaultMidSale(shared.with(kafkaBrokers: kafka.bootstrapServers), log: "kafka-frozen") { answers, _ in
                    let setup = shared.with(kafkaBrokers: kafka.bootstrapServers)
                    let connection = try await PostgresConnection.connect(url: setup.databaseURL)
                    @Sendable func head() async throws -> Double {
                        Double(try await connection.query("SELECT position FROM ledger_head")[0]["position"].int64())
                    }
                    kafka.freeze()
                    let frozenAt = ContinuousClock.now
                    let degraded = try await eventually(timeout: .seconds(10)) {
                        let ready = await Self.readiness(setup)
                        return ready?["status"] == "degraded" && ready?["kafka"] == "down"
                    }
                    #expect(degraded, "/ready answers 200 degraded, Kafka down")
                    try await Task.sleep(until: frozenAt + .seconds(1))
                    let deliveredEarly = await Self.metric("ledger_relay_delivered_position", on: setup)
                    try await Task.sleep(until: frozenAt + .seconds(4))
                    let deliveredLate = await Self.metric("ledger_relay_delivered_position", on: setup)
                    let headLate = try await head()
                    #expect(answers.created(between: frozenAt + .seconds(1), and: .now) > 0, "writes go on while Kafka is frozen")
                    #expect(deliveredEarly != nil && deliveredLate == deliveredEarly, "nothing is delivered while the brokers are frozen")
                    #expect(headLate > deliveredLate ?? .infinity, "the relay's lag grows: head \(headLate), delivered \(deliveredLate ?? -1)")
                    kafka.thaw()
                    let caughtUp = try await eventually(timeout: .seconds(30)) {
                        (await Self.metric("ledger_relay_delivered_position", on: setup) ?? 0) >= headLate
                    }
                    #expect(caughtUp, "the relay delivers what the ledger took meanwhile")
                    await connection.close()
                    try await Task.sleep(for: .seconds(1))
                }
            } catch {
                try await kafka.stop()
                throw error
            }
            try await kafka.stop()
        }
    }
}
