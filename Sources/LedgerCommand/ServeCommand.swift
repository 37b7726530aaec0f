import API
import ArgumentParser
import Foundation
import HTTPTypes
import Ledger
import Logging
import Projections
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API with the writer, relay, projector, reconciler and expiry worker until SIGTERM.",
        discussion: "SIGTERM or SIGINT: stop accepting, finish in-flight requests, commit what the writer holds, flush Kafka, exit 0.")

    @OptionGroup var connections: ConnectionOptions
    @OptionGroup var auth: AuthOptions

    @Option(help: "Address to listen on (env LEDGER_HTTP_HOST).")
    var host = ConnectionOptions.environment["LEDGER_HTTP_HOST"] ?? "127.0.0.1"

    @Option(help: "HTTP port (env LEDGER_HTTP_PORT).")
    var port = Int(ConnectionOptions.environment["LEDGER_HTTP_PORT"] ?? "") ?? 8080

    @Flag(inversion: .prefixedNo, help: "Publish the ledger to Kafka (the outbox relay).")
    var relay = true

    @Flag(inversion: .prefixedNo, help: "Apply the topic to the Redis read model.")
    var projector = true

    @Flag(inversion: .prefixedNo, help: "Roll back gate tentatives that never reached the ledger.")
    var reconciler = true

    @Flag(inversion: .prefixedNo, help: "Revert reservations past their expiry.")
    var expiry = true

    @Option(help: "Age in milliseconds after which a gate tentative without a ledger event is rolled back.")
    var reconcilerAgeMs = Limits().reconcilerTentativeAgeMs

    @Flag(help: "List a demo sale (product 1) if there is none and print a curl line that reserves a unit.")
    var demo = false

    @Flag(help: "Allow trusted-header authentication on an address other than loopback (only behind a gateway that strips those headers from clients).")
    var allowTrustedHeadersOnAnyHost = false

    @Option(help: "HTTP connections open at once; more wait in the kernel's backlog.")
    var maxConnections = Limits().httpMaxConnections

    @Option(help: "Milliseconds a connection may stay open without a request.")
    var idleTimeoutMs = Limits().httpIdleTimeoutMs

    func validate() throws {
        let loopback = ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
        if auth.authMode == "trusted-header" && !loopback && !allowTrustedHeadersOnAnyHost {
            throw ValidationError(
                "trusted-header authentication believes any client that reaches the port; on \(host) pass --allow-trusted-headers-on-any-host once a gateway strips those headers")
        }
        guard maxConnections > 0, idleTimeoutMs > 0 else { throw ValidationError("--max-connections and --idle-timeout-ms must be positive") }
    }

    func run() async throws {
        LedgerTool.bootstrapLogging()
        // Before any part is made: each takes its metrics from the bootstrapped system.
        let registry = ServiceMetrics.bootstrap()
        let logger = Logger(label: "ledger.serve")
        var limits = Limits()
        limits.httpMaxConnections = maxConnections
        limits.httpIdleTimeoutMs = idleTimeoutMs
        FileDescriptorLimit.raise(toFit: limits.httpMaxConnections, logger: logger)
        limits.reconcilerTentativeAgeMs = reconcilerAgeMs
        // Look at least twice per bound, so an abandoned tentative waits at most 1.5 bounds.
        limits.reconcilerIntervalMs = max(100, min(limits.reconcilerIntervalMs, Int(reconcilerAgeMs / 2)))
        var services: [any Service] = []
        var brokers = connections.kafkaBrokers
        if brokers.isEmpty {
            let cluster = try await KafkaMockCluster.start(brokers: limits.devKafkaBrokers)
            brokers = cluster.bootstrapServers
            try await cluster.createTopic(connections.kafkaTopic, partitions: limits.devTopicPartitions, replicationFactor: limits.devKafkaBrokers)
            services.append(MockClusterService(cluster: cluster))
            logger.warning(
                "LEDGER_KAFKA_BROKERS is not set: using an in-process mock Kafka cluster; its topic does not outlive this process (the ledger keeps every event and the relay republishes)",
                metadata: ["bootstrap": "\(brokers)"])
        }
        var components = LedgerSystem.Components()
        if relay { components.insert(.relay) }
        if projector { components.insert(.projector) }
        if reconciler { components.insert(.reconciler) }
        if expiry { components.insert(.expiry) }
        let system: LedgerSystem
        do {
            system = try await LedgerSystem.start(
                .init(
                    databaseURL: connections.databaseURL, redisURL: connections.redisURL, redisNamespace: connections.redisNamespace,
                    kafkaBrokers: brokers, kafkaTopic: connections.kafkaTopic, authentication: try await authentication(logger: logger),
                    components: components, limits: limits),
                metrics: registry, logger: logger)
        } catch let error as LedgerSystem.StartError {
            logger.error("cannot start", metadata: ["reason": "\(error)"])
            throw ExitCode(3)
        }
        let serving: Logger.Metadata = ["postgres": "\(ConnectionURL.redacted(connections.databaseURL))", "kafka": "\(brokers)"]
        // The HTTP server last, so that it stops first and drains before the writer and the pool.
        services += system.services + [system.application(host: host, port: port) { address in
            logger.notice("serving", metadata: serving.merging(["http": "\(address)"]) { $1 })
        }]
        if demo { try await listDemoSale(reader: system.reader, logger: logger) }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await system.close()
        logger.notice("stopped")
    }

    private func authentication(logger: Logger) async throws -> AuthenticationMode {
        guard auth.authMode == "trusted-header" else { return .bearer(try await auth.tokenAuthority()) }
        logger.warning(
            "trusted-header authentication: only a gateway that strips these headers from clients may reach this port",
            metadata: ["userHeader": "\(auth.trustedUserHeader)", "roleHeader": "\(auth.trustedRoleHeader)"])
        return .trustedHeaders(userHeader: HTTPField.Name(auth.trustedUserHeader)!, roleHeader: HTTPField.Name(auth.trustedRoleHeader)!)
    }

    /// Product 1 on sale for a day with 100 units (unless it exists), and how to buy one.
    private func listDemoSale(reader: LedgerReader, logger: Logger) async throws {
        var state = "already listed"
        if try await reader.product(1) == nil {
            let now = Timestamp.now()
            let listing = ProductListed(
                productId: 1, name: "Demo phone", priceMinor: 199_900, currency: "EUR", stock: 100, startsAt: now.adding(seconds: -60),
                endsAt: now.adding(seconds: 86_400), limitPerUser: 2, reservationTTLSeconds: 900)
            // A writer of its own for one command, before the service's writer runs.
            let connection = try await PostgresConnection.connect(url: connections.databaseURL, name: "demo")
            let writer = LedgerWriter(connection: connection)
            async let running: Void = writer.run()
            let result = try await writer.submit(.listProduct(listing), metadata: EventMetadata(actor: "system:demo"))
            writer.shutdown()
            try await running
            await connection.close()
            state = result.rejection.map { "not listed: \($0)" } ?? "listed"
        }
        let token = try await auth.tokenAuthority().token(userId: 42, admin: false, ttlSeconds: 86_400)
        let text = """

            Demo sale: product 1 (\(state)). Reserve a unit as user 42:

              curl -s -X POST http://\(host):\(port)/v1/seckill -H 'Authorization: Bearer \(token)' \\
                -H 'Content-Type: application/json' -H 'Idempotency-Key: demo-1' -d '{"productId":1,"quantity":1}'

            """
        // Written straight to fd 1: print's buffer would hold the line until exit on a pipe.
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
        logger.info("demo sale ready")
    }
}
