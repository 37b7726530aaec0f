import API
import ArgumentParser
import Foundation
import Ledger
import LoadGenerator
import Projections

/// The load generator: drives a running `ledger serve` over HTTP and checks the ledger afterwards.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a running server (flash-sale, sold-out or mixed), then check the invariants in the ledger.",
        discussion: "Closed loop with --connections, open loop with --rate (latency from the scheduled send time).")

    @OptionGroup var connectionOptions: ConnectionOptions
    @OptionGroup var auth: AuthOptions

    @Option(help: "Server base URL.")
    var url = "http://127.0.0.1:\(ConnectionOptions.environment["LEDGER_HTTP_PORT"] ?? "8080")"

    @Option(help: "flash-sale, sold-out or mixed.")
    var scenario: String = LoadScenario.Kind.flashSale.rawValue

    @Option(help: "Keep-alive connections (closed loop: one request in flight on each).")
    var connections = 64

    @Option(help: "Requests per second (open loop); 0 runs closed loop.")
    var rate = 0

    @Option(help: "Seconds to run.")
    var duration = 10

    @Option(help: "Stop after this many requests.")
    var requests: Int?

    @Option(help: "Users the requests are spread over; a token is minted for each first.")
    var users = 50_000

    @Option(help: "How requests pick their user: uniform, or zipf (a few heavy hitters, see --zipf-exponent).")
    var userDistribution = "uniform"

    @Option(help: "Zipf's s: the user of rank k is picked with weight 1/k^s (1.0: the busiest user sends ~8 % of 100,000 users' requests).")
    var zipfExponent = 1.0

    @Option(help: "Units of the sale (flash-sale and mixed).")
    var stock: Int64 = 200_000

    @Option(help: "Units one user may hold.")
    var limit: Int64 = 5

    @Flag(inversion: .prefixedNo, help: "Check the ledger afterwards: every 201 in it, units sold ≤ stock, audit clean.")
    var verify = true

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Option(help: "Also write an HTML report with SVG charts to this file.")
    var html: String?

    func validate() throws {
        guard LoadScenario.Kind(rawValue: scenario) != nil else { throw ValidationError("--scenario is flash-sale, sold-out or mixed") }
        guard connections > 0, duration > 0, users > 0, stock >= 0, limit > 0, rate >= 0 else { throw ValidationError("counts must be positive") }
        guard ["uniform", "zipf"].contains(userDistribution) else { throw ValidationError("--user-distribution is uniform or zipf") }
        if userDistribution == "zipf" {
            guard zipfExponent.isFinite, zipfExponent > 0 else { throw ValidationError("--zipf-exponent must be a positive number") }
            guard users <= UserDistribution.maxZipfUsers else { throw ValidationError("--user-distribution zipf takes at most \(UserDistribution.maxZipfUsers) users") }
        }
    }

    func run() async throws {
        let kind = LoadScenario.Kind(rawValue: scenario)!
        let authority = try await TokenAuthority(secret: auth.jwtSecret)
        var tokens = [String]()
        tokens.reserveCapacity(users)
        for user in 1...users { tokens.append(try await authority.token(userId: Int64(user), admin: false, ttlSeconds: 3_600)) }
        let productId = Int64.random(in: 1_000_000...9_000_000_000)
        let stock = kind == .soldOut ? 1 : self.stock
        let admin = try await authority.token(userId: 1, admin: true, ttlSeconds: 3_600)
        try await SaleListing.list(at: url, admin: admin, productId: productId, stock: stock, limitPerUser: limit, reservationTTLSeconds: 3_600)
        if kind == .soldOut {
            // Sell the one unit, so every request of the run meets a sold-out product.
            let buyer = try await authority.token(userId: Int64(users) + 1, admin: false, ttlSeconds: 600)
            _ = try await post("/v1/seckill", token: buyer, body: #"{"productId":\#(productId),"quantity":1}"#)
        }
        let distribution = UserDistribution(users: users, shape: userDistribution == "zipf" ? .zipf(exponent: zipfExponent) : .uniform)
        let plan = LoadScenario(kind: kind, productId: productId, tokens: tokens, users: distribution)
        let runner = HTTPLoadRunner(
            baseURL: url, mode: rate > 0 ? .open(ratePerSecond: rate, connections: connections) : .closed(connections: connections),
            scenario: plan)
        let metricsBefore = await serverMetrics(token: admin)
        let (recorder, elapsed) = try await runner.run(duration: .seconds(duration), maxRequests: requests)
        var summary = recorder.summary(elapsed: elapsed)
        summary.productId = productId
        if let metricsBefore, let metricsAfter = await serverMetrics(token: admin) {
            summary.serverStages = ServerStages(before: metricsBefore, after: metricsAfter)
        }
        if verify {
            summary.invariants = try await checkInvariants(productId: productId, stock: stock, acknowledged: recorder.acknowledged)
        }
        let title = "ledger bench \(kind.rawValue): \(rate > 0 ? "open loop \(rate)/s" : "closed loop"), \(connections) connections, \(users) users (\(distribution.label)), product \(productId)"
        print(json ? try LoadReport.json(summary) : LoadReport.text(summary, title: title))
        if let html {
            try LoadReport.html(summary, title: title).write(toFile: html, atomically: true, encoding: .utf8)
        }
        if let invariants = summary.invariants, !invariants.holds { throw ExitCode(1) }
    }

    /// The server's `/metrics`, or nil when it does not answer them (the run does not need them).
    private func serverMetrics(token: String) async -> String? {
        let request = LoadScenario.Request(method: "GET", path: "/metrics", body: nil, token: token, user: 0, isReservation: false)
        guard let (status, body) = try? await HTTPLoadRunner.send(request, to: url), status == 200 else { return nil }
        return body
    }

    private func post(_ path: String, token: String, body: String) async throws -> Int {
        let request = LoadScenario.Request(method: "POST", path: path, body: body, token: token, user: 0, isReservation: false)
        return try await HTTPLoadRunner.send(request, to: url).status
    }

    /// Every 201 is in the ledger, the sale never sold more than its stock, the audit is clean.
    private func checkInvariants(productId: Int64, stock: Int64, acknowledged: [String]) async throws -> LoadSummary.Invariants {
        let postgres = try await PostgresConnection.connect(url: connectionOptions.databaseURL, name: "bench-verify")
        let redis = try await RedisConnection.connect(url: connectionOptions.redisURL, name: "bench-verify")
        let reader = LedgerReader(connection: postgres)
        var found = 0
        var start = 0
        while start < acknowledged.count {
            let chunk = acknowledged[start..<min(start + 10_000, acknowledged.count)]
            // An acknowledged id that is no reservation id counts as lost.
            found += try await reader.existingReservations(chunk.compactMap(ReservationID.init)).count
            start += chunk.count
        }
        let product = try await reader.product(productId)
        let audit = try await LedgerAuditor(reader: reader, namespace: connectionOptions.redisNamespace).audit(
            redis: redis, kafka: nil, projectionWaitMs: 30_000)
        for difference in audit.differences.prefix(10) { FileHandle.standardError.write(Data("audit: \(difference)\n".utf8)) }
        await redis.close()
        await postgres.close()
        return .init(
            acknowledged: Set(acknowledged).count, inLedger: found, unitsSold: product?.reservedUnits ?? 0, stock: product?.totalStock ?? stock,
            auditDifferences: audit.differences.count)
    }
}
