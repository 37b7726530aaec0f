import API
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ledger
import LoadGenerator
import NIOCore
import Projections
import Synchronization
import TestSupport
import Testing

/// `ledger serve` as a real process, killed with SIGKILL and stopped with SIGTERM under load.
@Suite(.serialized, .timeLimit(.minutes(4))) struct ServerProcessTests {
    static let secret = "process-test-secret-0123456789abcdef"

    /// What the load saw acknowledged (201) and how many requests it sent.
    final class Acknowledged: Sendable {
        let ids = Mutex<[String]>([])
        let stopped = Atomic<Bool>(false)
    }

    /// The `ledger serve` processes a test started, killed if the test fails half-way, so that
    /// they do not hold ports and connections for the tests after it.
    final class StartedProcesses: Sendable {
        private let processes = Mutex<[ChildProcess]>([])

        func add(_ process: ChildProcess) { processes.withLock { $0.append(process) } }

        func killAll() async {
            for process in processes.withLock({ $0 }) {
                process.signal(SIGKILL)
                _ = try? await process.waitForExit()
            }
        }
    }

    struct Setup: Sendable {
        let environment: [String: String]
        let port: Int
        let namespace: String
        let topic: String
        let databaseURL: String
        var started = StartedProcesses()

        /// The same ledger, Redis namespace and topic served on another port: another node.
        func node(port: Int) -> Setup {
            var environment = environment
            environment["LEDGER_HTTP_PORT"] = String(port)
            return Setup(environment: environment, port: port, namespace: namespace, topic: topic, databaseURL: databaseURL, started: started)
        }

        /// The same node on other Kafka brokers (ones the test can freeze).
        func with(kafkaBrokers: String) -> Setup {
            var environment = environment
            environment["LEDGER_KAFKA_BROKERS"] = kafkaBrokers
            return Setup(environment: environment, port: port, namespace: namespace, topic: topic, databaseURL: databaseURL, started: started)
        }

        /// The same node on another Redis (one the test can freeze or restart).
        func with(redisURL: String) -> Setup {
            var environment = environment
            environment["LEDGER_REDIS_URL"] = redisURL
            return Setup(environment: environment, port: port, namespace: namespace, topic: topic, databaseURL: databaseURL, started: started)
        }
    }

    func withSetup(migrated: Bool = true, _ body: @escaping @Sendable (Setup) async throws -> Void) async throws {
        try await TestServices.withTemporaryDatabase { url in
            if migrated { try await LedgerHarness.migrate(url) }
            // Below Linux's ephemeral range (32768…): no outgoing connection of a parallel test
            // can hold the port, including across the crash test's restart.
            let port = Int.random(in: 20_000...32_000)
            let namespace = TestServices.uniqueName("serve")
            let topic = TestServices.uniqueName("serve.events")
            let setup = Setup(
                environment: [
                    "LEDGER_DATABASE_URL": url, "LEDGER_REDIS_URL": try TestServices.redisURL(),
                    "LEDGER_KAFKA_BROKERS": try TestServices.kafkaBrokers(), "LEDGER_KAFKA_TOPIC": topic,
                    "LEDGER_REDIS_NAMESPACE": namespace, "LEDGER_JWT_SECRET": Self.secret, "LEDGER_HTTP_PORT": String(port),
                ],
                port: port, namespace: namespace, topic: topic, databaseURL: url)
            do {
                try await body(setup)
            } catch {
                await setup.started.killAll()
                throw error
            }
            try await ProjectionFixture.delete(namespace: namespace, url: try TestServices.redisURL())
        }
    }

    func spawnServe(_ setup: Setup, _ arguments: [String] = [], log: String) throws -> ChildProcess {
        let process = try ChildProcess.spawn(
            try TestServices.variable("LEDGER_BIN"), ["serve"] + arguments, environment: setup.environment,
            outputPath: NSTemporaryDirectory() + "\(log)-\(setup.port).log")
        setup.started.add(process)
        return process
    }

    /// Starts `ledger serve` and waits until it answers `/ready`.
    func start(_ setup: Setup, _ arguments: [String] = [], log: String) async throws -> ChildProcess {
        let process = try spawnServe(setup, ["--reconciler-age-ms", "1500"] + arguments, log: log)
        let ready = try await eventually(timeout: .seconds(60)) {
            (try? await TestClient.withClient(host: "127.0.0.1", port: setup.port) { try await $0.get("/ready").head.status == .ok }) == true
        }
        guard ready else {
            process.signal(SIGKILL)
            _ = try await process.waitForExit()
            throw ServerDidNotStart(output: String(process.output.suffix(3_000)))
        }
        return process
    }

    func send(_ client: TestClient, _ method: HTTPRequest.Method, _ uri: String, token: String, body: String) async throws -> TestClient.Response {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        headers[.contentType] = "application/json"
        return try await client.execute(.init(uri, method: method, headers: headers, body: ByteBuffer(string: body)))
    }

    func listSale(_ setup: Setup, stock: Int, productId: Int64 = 1, limitPerUser: Int = 2) async throws {
        let admin = try await TokenAuthority(secret: Self.secret).token(userId: 1, admin: true, ttlSeconds: 600)
        let now = Timestamp.now()
        let body = """
            {"id":\(productId),"name":"Phone","priceMinor":100,"currency":"EUR","stock":\(stock),"startsAt":"\(now.adding(seconds: -60).iso8601)",\
            "endsAt":"\(now.adding(seconds: 3_600).iso8601)","limitPerUser":\(limitPerUser),"reservationTTLSeconds":600}
            """
        let status = try await TestClient.withClient(host: "127.0.0.1", port: setup.port) {
            try await send($0, .post, "/v1/products", token: admin, body: body).head.status
        }
        #expect(status == .created)
    }

    /// 16 connections reserving for random users until the server goes away or `stopped`.
    func load(_ setup: Setup, into acknowledged: Acknowledged) async throws {
        let authority = try await TokenAuthority(secret: Self.secret)
        var tokens = [String]()
        for user in 2...401 { tokens.append(try await authority.token(userId: Int64(user), admin: false, ttlSeconds: 600)) }
        let userTokens = tokens
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    let client = TestClient(host: "127.0.0.1", port: setup.port)
                    client.connect()
                    while !acknowledged.stopped.load(ordering: .relaxed) {
                        guard let response = try? await send(
                            client, .post, "/v1/seckill", token: userTokens.randomElement()!, body: #"{"productId":1,"quantity":1}"#)
                        else { break }
                        if let id = Self.reservationId(of: response) { acknowledged.ids.withLock { $0.append(id) } }
                    }
                    try? await client.shutdown()
                }
            }
        }
    }

    /// The reservation a 201 acknowledged; nil for any other answer.
    static func reservationId(of response: TestClient.Response) -> String? {
        guard response.head.status == .created, let body = response.body,
            let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        else { return nil }
        return object["reservationId"] as? String
    }

    /// Signals come once the load has this many acknowledgements, not after a fixed time: on a
    /// busy CI box a fixed 1.5 s saw as few as 16, and the signal must land mid-load either way.
    static let answersBeforeSignal = 40

    func waitForAnswers(_ acknowledged: Acknowledged) async throws {
        let answered = try await eventually(timeout: .seconds(60)) {
            acknowledged.ids.withLock { $0.count } >= Self.answersBeforeSignal
        }
        #expect(answered, "the load got \(Self.answersBeforeSignal) answers within a minute")
    }

    func auditor(_ setup: Setup, _ connection: PostgresConnection) -> LedgerAuditor {
        LedgerAuditor(reader: LedgerReader(connection: connection), namespace: setup.namespace)
    }

    @Test func killedUnderLoadLosesNoAcknowledgedReservationAndRecovers() async throws {
        try await withSetup { setup in
            let first = try await start(setup, log: "crash-first")
            try await listSale(setup, stock: 400)
            let acknowledged = Acknowledged()
            async let loading: Void = load(setup, into: acknowledged)
            try await waitForAnswers(acknowledged)
            first.signal(SIGKILL)
            #expect(try await first.waitForExit() == 128 + SIGKILL)
            acknowledged.stopped.store(true, ordering: .relaxed)
            try await loading
            let ids = acknowledged.ids.withLock { $0 }
            #expect(ids.count >= Self.answersBeforeSignal, "the load got answers before the kill")

            let second = try await start(setup, log: "crash-second")
            let connection = try await PostgresConnection.connect(url: setup.databaseURL)
            let reader = LedgerReader(connection: connection)
            for id in ids {
                #expect(try await reader.reservation(try #require(ReservationID(id))) != nil, "acknowledged \(id) is in the ledger")
            }
            #expect(try await auditor(setup, connection).audit(redis: nil, kafka: nil).differences == [], "tables and invariants hold")

            // The reconciler rolls back what the killed requests left in Redis; the projector
            // brings the rest; then every copy agrees with the ledger.
            let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
            let keys = ProjectionKeys(namespace: setup.namespace, generation: 1).product(1)
            let settled = try await eventually(timeout: .seconds(30)) { try await ProjectedProduct.read(keys, on: redis).tentatives.isEmpty }
            #expect(settled, "no tentative is left")
            let audit = try await auditor(setup, connection).audit(
                redis: redis, kafka: .init(configuration: KafkaConfiguration(brokers: try TestServices.kafkaBrokers()), topic: setup.topic), projectionWaitMs: 30_000)
            #expect(audit.differences.isEmpty, "\(audit.differences.count) differences, first: \(audit.differences.prefix(5))")
            second.signal(SIGTERM)
            #expect(try await second.waitForExit() == 0)
            await redis.close()
            await connection.close()
        }
    }

    @Test func sigtermDuringLoadDrainsAndExitsZero() async throws {
        try await withSetup { setup in
            let server = try await start(setup, log: "sigterm")
            try await listSale(setup, stock: 100_000)
            let acknowledged = Acknowledged()
            async let loading: Void = load(setup, into: acknowledged)
            try await waitForAnswers(acknowledged)
            server.signal(SIGTERM)
            let status = try await server.waitForExit()
            acknowledged.stopped.store(true, ordering: .relaxed)
            try await loading
            #expect(status == 0, "\(server.output.suffix(2_000))")
            let ids = acknowledged.ids.withLock { $0 }
            #expect(ids.count >= Self.answersBeforeSignal)
            let connection = try await PostgresConnection.connect(url: setup.databaseURL)
            let reader = LedgerReader(connection: connection)
            for id in ids {
                #expect(try await reader.reservation(try #require(ReservationID(id))) != nil, "acknowledged \(id) is in the ledger")
            }
            #expect(try await auditor(setup, connection).audit(redis: nil, kafka: nil).differences == [])
            await connection.close()
        }
    }

    /// A second instance on a port that is taken says so and exits non-zero at once, instead of
    /// claiming to serve and hanging (a failed service cancels the group; every other service
    /// must end on cancellation too).
    @Test func aTakenPortEndsTheServerWithAnError() async throws {
        try await withSetup { setup in
            let first = try await start(setup, log: "port-owner")
            let second = try spawnServe(setup, log: "port-taken")
            let status = try await exitStatus(of: second, within: .seconds(30))
            #expect(status == 1, "\(second.output.suffix(2_000))")
            #expect(second.output.contains("Address already in use"))
            #expect(!second.output.contains("serving"), "it never listened, so it never says it serves")
            first.signal(SIGTERM)
            #expect(try await first.waitForExit() == 0)
        }
    }

    /// On a database nobody migrated, `ledger serve` says what to do and exits 3 (a dependency
    /// not ready) instead of answering every request 503.
    @Test func anUnmigratedDatabaseIsRefusedAtStart() async throws {
        try await withSetup(migrated: false) { setup in
            let server = try spawnServe(setup, log: "unmigrated")
            let status = try await exitStatus(of: server, within: .seconds(30))
            #expect(status == 3, "\(server.output.suffix(2_000))")
            #expect(server.output.contains("run `ledger migrate` first"))
            #expect(!server.output.contains("serving"))
        }
    }

    /// The process's exit status, or nil (and an issue) when it was still running after `limit`.
    private func exitStatus(of process: ChildProcess, within limit: Duration) async throws -> Int32? {
        try await withThrowingTaskGroup(of: Int32?.self) { group in
            group.addTask { try await process.waitForExit() }
            group.addTask {
                try await Task.sleep(for: limit)
                Issue.record("ledger serve was still running after \(limit)")
                process.signal(SIGKILL)
                return nil
            }
            let status = try await group.next()!
            group.cancelAll()
            return status
        }
    }

    /// schemathesis (an independent client) fuzzes every route of `/openapi.yaml` against the
    /// live server: no 5xx, every status, content type, header and body as documented, 405 for
    /// undeclared methods. Not checked: that every schema-valid body is accepted, because some
    /// valid bodies are refused by rules a schema cannot state (`endsAt` after `startsAt`, a
    /// sale that has ended → 422).
    @Test func schemathesisFindsNothingAgainstTheDocument() async throws {
        try await withSetup { setup in
            let server = try await start(setup, log: "schemathesis")
            try await listSale(setup, stock: 1_000)
            let admin = try await TokenAuthority(secret: Self.secret).token(userId: 1, admin: true, ttlSeconds: 3_600)
            let result = try await TestServices.run(try TestServices.variable("LEDGER_SCHEMATHESIS"), [
                "run", "http://127.0.0.1:\(setup.port)/openapi.yaml", "-H", "Authorization: Bearer \(admin)",
                "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "25", "--seed", "1",
                "--no-color",
            ])
            #expect(result.status == 0, "\(result.output.suffix(4_000))")
            #expect(result.output.contains("passed"))
            server.signal(SIGTERM)
            #expect(try await server.waitForExit() == 0)
        }
    }

    /// The load generator against a served instance: its figures and its invariant check.
    @Test func benchDrivesTheServerAndChecksTheLedger() async throws {
        try await withSetup { setup in
            let server = try await start(setup, log: "bench")
            let result = try await TestServices.run("/usr/bin/env", setup.environment.map { "\($0.key)=\($0.value)" } + [
                try TestServices.variable("LEDGER_BIN"), "bench", "--scenario", "flash-sale", "--connections", "16", "--duration", "2",
                "--users", "200", "--stock", "150", "--limit", "1", "--json", "--url", "http://127.0.0.1:\(setup.port)",
            ])
            #expect(result.status == 0, "\(result.output.suffix(2_000))")
            let summary = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] ?? [:]
            let outcomes = summary["outcomes"] as? [String: Int] ?? [:]
            #expect(outcomes["201"] == 150, "the stock sells out exactly: \(outcomes)")
            #expect((outcomes["409 sold-out"] ?? 0) + (outcomes["409 limit-exceeded"] ?? 0) > 0)
            let invariants = summary["invariants"] as? [String: Any] ?? [:]
            #expect(invariants["acknowledged"] as? Int == 150)
            #expect(invariants["inLedger"] as? Int == 150)
            #expect(invariants["auditDifferences"] as? Int == 0)
            // The server's own figures for the run: at least the 150 reservations went through the writer.
            let stages = summary["serverStages"] as? [String: Any] ?? [:]
            let batches = stages["writerBatches"] as? Int ?? 0
            #expect(batches >= 1, "\(stages)")
            #expect(Double(batches) * (stages["commandsPerBatch"] as? Double ?? 0) >= 150)
            #expect((stages["redisRoundTrips"] as? Int ?? 0) >= 1)

            // What the server measured agrees with what the load saw; the relay and the projector
            // get through the whole ledger (the projector's gauge moves just after Redis did).
            @Sendable func scrape() async throws -> String {
                try await TestClient.withClient(host: "127.0.0.1", port: setup.port) { client in
                    let response = try await client.get("/metrics")
                    #expect(response.head.status == .ok)
                    return response.body.map { String(buffer: $0) } ?? ""
                }
            }
            @Sendable func value(_ series: String, in metrics: String) -> Double? {
                metrics.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            let caughtUp = try await eventually {
                let metrics = try await scrape()
                guard let delivered = value("ledger_relay_delivered_position", in: metrics) else { return false }
                return delivered >= 151 && value("ledger_projector_applied_position", in: metrics) == delivered
            }
            #expect(caughtUp, "the listing and 150 reservations reach Kafka and Redis")
            let metrics = try await scrape()
            #expect(value(#"http_requests_total{route="/v1/seckill",method="POST",status="201"}"#, in: metrics) == 150, "\(metrics.prefix(3_000))")
            #expect(try #require(value("ledger_writer_batch_commands_sum", in: metrics)) >= 151)
            #expect(try #require(value("ledger_writer_batches_total", in: metrics)) >= 1)
            #expect(try #require(value("redis_pipelines_total", in: metrics)) >= 1)

            // Zipf with s = 2: the busiest user sends ~61 % of the 300 requests, far past the per-user
            // rate limit's burst of 20; spread uniformly over 200 users, none would send more than ~6.
            let hot = try await TestServices.run("/usr/bin/env", setup.environment.map { "\($0.key)=\($0.value)" } + [
                try TestServices.variable("LEDGER_BIN"), "bench", "--scenario", "flash-sale", "--connections", "8", "--requests", "300",
                "--users", "200", "--user-distribution", "zipf", "--zipf-exponent", "2", "--stock", "150", "--limit", "1", "--json",
                "--url", "http://127.0.0.1:\(setup.port)",
            ])
            #expect(hot.status == 0, "\(hot.output.suffix(2_000))")
            let hotSummary = try JSONSerialization.jsonObject(with: Data(hot.output.utf8)) as? [String: Any] ?? [:]
            let hotOutcomes = hotSummary["outcomes"] as? [String: Int] ?? [:]
            #expect((hotOutcomes["429 rate-limited"] ?? 0) > 0, "heavy hitters meet the rate limit: \(hotOutcomes)")
            #expect((hotSummary["invariants"] as? [String: Any])?["auditDifferences"] as? Int == 0)
            server.signal(SIGTERM)
            #expect(try await server.waitForExit() == 0)
        }
    }
}

struct ServerDidNotStart: Error, CustomStringConvertible {
    let output: String
    var description: String { "ledger serve did not become ready:\n\(output)" }
}
