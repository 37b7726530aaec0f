import ArgumentParser
import Foundation
import Ledger
import LoadGenerator
import Projections

/// A flash sale on a running local cluster while its processes and dependencies fail on a seeded
/// schedule; then the history is checked against the ledger, the topic and Redis, and reported.
/// `bench/chaos.sh` starts the cluster around it.
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Run a flash sale on the local cluster while processes and dependencies fail, then check that nothing was lost.",
        discussion: """
            Needs a cluster started by scripts/cluster.sh (bench/chaos.sh does both). The faults come from --seed: \
            the same seed gives the same schedule. Writes chaos-<seed>.json, chaos-<seed>.html and the client history \
            to --report-dir. Exit status 0 when the checker found no violation, 2 otherwise.
            """)

    @OptionGroup var connections: ConnectionOptions
    @OptionGroup var auth: AuthOptions

    @Option(help: "The load balancer's URL.")
    var url = "http://127.0.0.1:\(ConnectionOptions.environment["LEDGER_CLUSTER_PORT"] ?? "8080")"

    @Option(help: "Nodes of the cluster (node i listens on the balancer's port + i).")
    var nodes = 2

    @Option(help: "Seed of the fault schedule and of the clients' choices.")
    var seed: UInt64 = 1

    @Option(help: "Seconds the sale runs (longer when undoing the faults takes longer).")
    var duration = 60

    @Option(help: "Faults to inject, comma-separated (default every kind): \(ChaosFault.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var faults: String?

    @Option(help: "Concurrent buyers, each with one request in flight.")
    var buyers = 24

    @Option(help: "Users the buyers act for (default: 400 per started minute of the run).")
    var users: Int?

    @Option(help: "Units listed at the start.")
    var stock: Int64 = 100

    @Option(help: "Units an admin adds every second.")
    var restockPerSecond: Int64 = 20

    @Option(help: "Units one user may hold.")
    var limit: Int64 = 2

    @Option(help: "Seconds a reservation lives before it expires.")
    var ttlSeconds: Int64 = 5

    @Option(help: "A reservation must succeed this soon after each fault ends, in milliseconds.")
    var recoveryBoundMs: Int64 = 20_000

    @Option(help: "How long the read model may take to catch up once the faults are over (a rebuild included), in milliseconds.")
    var projectionWaitMs = 60_000

    @Option(help: "Where the report and the history go.")
    var reportDir = ".local/chaos"

    @Option(help: "scripts/services.sh of the repository (env LEDGER_SERVICES_SCRIPT).")
    var servicesScript = ConnectionOptions.environment["LEDGER_SERVICES_SCRIPT"] ?? "scripts/services.sh"

    @Option(help: "scripts/cluster.sh of the repository (default: next to the services script).")
    var clusterScript: String?

    /// Confirmed units count against a user's limit for ever, so a fixed set of users runs out
    /// of room to buy within two minutes, and a long run would report the sale's end as a
    /// failure to recover.
    var userCount: Int { users ?? 400 * max(1, (duration + 59) / 60) }

    func validate() throws {
        guard nodes >= 1, duration > 0, buyers > 0, userCount > 0, stock >= 0, restockPerSecond > 0, limit > 0, ttlSeconds > 0, recoveryBoundMs > 0 else {
            throw ValidationError("counts must be positive")
        }
        for name in faultKindNames where ChaosFault.Kind(rawValue: name) == nil {
            throw ValidationError("unknown fault \(name); the kinds are \(ChaosFault.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    private var faultKindNames: [String] { faults.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? [] }

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let kinds = faults == nil ? ChaosFault.Kind.allCases : faultKindNames.compactMap(ChaosFault.Kind.init(rawValue:))
        let schedule = ChaosSchedule.make(seed: seed, durationMs: Int64(duration) * 1_000, nodes: nodes, kinds: kinds)
        let injector = ChaosFaultInjector(
            servicesScript: servicesScript,
            clusterScript: clusterScript ?? URL(fileURLWithPath: servicesScript).deletingLastPathComponent().appendingPathComponent("cluster.sh").path)

        let authority = try await auth.tokenAuthority()
        var tokens = [String]()
        for user in 1...userCount { tokens.append(try await authority.token(userId: Int64(user), admin: false, ttlSeconds: 3_600)) }
        let admin = try await authority.token(userId: 1, admin: true, ttlSeconds: 3_600)
        let productId = Int64.random(in: 1_000_000...9_000_000_000)
        try await SaleListing.list(at: url, admin: admin, productId: productId, stock: stock, limitPerUser: limit, reservationTTLSeconds: ttlSeconds)
        log("product \(productId): \(stock) units, +\(restockPerSecond)/s, limit \(limit), TTL \(ttlSeconds) s; \(schedule.count) faults from seed \(seed)")

        let clients = ChaosClients(.init(
            baseURL: url, buyers: buyers, tokens: tokens, adminToken: admin, productId: productId, restockPerSecond: restockPerSecond, seed: seed))
        let start = ContinuousClock.now
        let startMs = ChaosClients.epochMs()
        let deadline = ChaosDeadline(start + .seconds(duration))
        async let history = clients.run(until: deadline)
        let injected: [ChaosFault]
        do {
            injected = try await injector.inject(schedule, from: start) { fault, ended in
                log("\(ended ? "ended" : "began") \(fault.kind.rawValue)\(fault.node.map { " on node\($0)" } ?? "")")
            }
        } catch {
            deadline.extend(to: .now)
            _ = await history
            throw error
        }
        // Recovery after the last fault is part of what is checked.
        deadline.extend(to: .now + .milliseconds(ChaosSchedule.quietEndMs))
        let operations = await history
        let endMs = ChaosClients.epochMs()
        log("\(operations.count) operations; quiescing \(ttlSeconds + 3) s (reservations expire, the relay and the projector catch up)")
        try await Task.sleep(for: .seconds(ttlSeconds + 3))

        let verdict = try await check(operations, productId: productId)
        let report = ChaosReport(
            history: operations, faults: injected, verdict: verdict, seed: seed, nodes: nodes, startMs: startMs, endMs: endMs,
            recoveryBoundMs: recoveryBoundMs)
        try write(report, history: operations)
        print(summary(report))
        if !report.passed { throw ExitCode(2) }
    }

    /// The checker's verdict, the topic check of the run's product and every difference of
    /// `ledger audit --kafka` (tables, Redis, topic) as violations.
    private func check(_ operations: [ChaosOperation], productId: Int64) async throws -> ChaosVerdict {
        let postgres = try await PostgresConnection.connect(url: connections.databaseURL, name: "chaos-postgres")
        let redis: RedisConnection
        do {
            redis = try await RedisConnection.connect(url: connections.redisURL, name: "chaos-redis")
        } catch {
            await postgres.close()
            throw error
        }
        do {
            let facts = try await ChaosLedgerFacts.read(on: postgres, products: [productId])
            var verdict = ChaosChecker.check(operations, against: facts)
            let kafka = KafkaConfiguration(brokers: connections.kafkaBrokers)
            // Read here for the checker's own topic check, and again by the audit below: the
            // checker must not rest on the audit's comparison.
            let topic = try await TopicReader.read(configuration: kafka, topic: connections.kafkaTopic, timeoutMs: Limits().auditTopicTimeoutMs)
            verdict.violations += ChaosTopicCheck.check(
                ledger: [productId: facts.events.map(\.position)], topic: [productId: topic.positionsByProduct[productId] ?? []],
                retainedFrom: [productId: topic.retentionCutoff(of: productId)])
            let audit = try await LedgerAuditor(reader: LedgerReader(connection: postgres), namespace: connections.redisNamespace).audit(
                redis: redis, kafka: .init(configuration: kafka, topic: connections.kafkaTopic, fromPosition: 0, timeoutMs: Limits().auditTopicTimeoutMs),
                projectionWaitMs: projectionWaitMs)
            verdict.violations += audit.differences.map { ChaosViolation(.auditDifference, "\($0)") }
            await redis.close()
            await postgres.close()
            return verdict
        } catch {
            await redis.close()
            await postgres.close()
            throw error
        }
    }

    private func write(_ report: ChaosReport, history: [ChaosOperation]) throws {
        try FileManager.default.createDirectory(atPath: reportDir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let base = URL(fileURLWithPath: reportDir).appendingPathComponent("chaos-\(seed)")
        try encoder.encode(report).write(to: base.appendingPathExtension("json"))
        try Data(report.html().utf8).write(to: base.appendingPathExtension("html"))
        try JSONEncoder().encode(history).write(to: URL(fileURLWithPath: reportDir).appendingPathComponent("chaos-\(seed)-history.json"))
        log("report in \(base.path).json and .html")
    }

    private func summary(_ report: ChaosReport) -> String {
        let verdict = report.verdict
        var text = """
            chaos seed \(report.seed), \(report.nodes) node(s), \(report.operations) operations: \(report.passed ? "passed" : "FAILED (\(verdict.violations.count) violations)")
            acknowledged \(verdict.acknowledged), in the ledger \(verdict.acknowledgedInLedger); unknown outcomes: \(verdict.unknownCommitted) committed once, \
            \(verdict.unknownNotCommitted) not at all; oversold units \(verdict.oversoldUnits)

            """
        let rows = report.faultKinds.map { row in
            [
                row.kind.rawValue, "\(row.count)", row.recoveriesMs.max().map { "\($0) ms" } ?? "none", "\(row.errorsDuring)", "\(row.lostAcknowledged)",
                "\(row.oversoldUnits)",
            ]
        }
        text += TextTable(header: ["fault", "times", "worst recovery", "errors during", "acks lost", "oversold"], rows: rows).description
        for violation in verdict.violations.prefix(20) { text += "\n" + violation.description }
        return text
    }

    private func log(_ message: String) {
        FileHandle.standardError.write(Data("chaos: \(message)\n".utf8))
    }
}
