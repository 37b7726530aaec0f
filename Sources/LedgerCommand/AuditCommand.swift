import ArgumentParser
import Ledger
import Logging
import Projections

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Fold the whole ledger and compare it with the inline tables, Redis and (--kafka) the topic.",
        discussion: "Prints every difference as a table. Exit status 0 only when there is none, 1 otherwise.")

    @OptionGroup var connections: ConnectionOptions

    @Flag(inversion: .prefixedNo, help: "Compare the Redis read model.")
    var redis = true

    @Flag(help: "Also read the Kafka topic and compare it (needs LEDGER_KAFKA_BROKERS): every position from the first its partition still retains must be there, in product order.")
    var kafka = false

    @Option(help: "With --kafka: compare the topic from this ledger position on (earlier positions are neither compared nor counted).")
    var kafkaFromPosition: Int64 = 0

    @Option(help: "With --kafka: how long reading the whole topic may take, in milliseconds.")
    var kafkaTimeoutMs = Limits().auditTopicTimeoutMs

    @Option(help: "How long the read model may take to catch up with the ledger, in milliseconds.")
    var projectionWaitMs = Limits().auditProjectionWaitMs

    func run() async throws {
        LedgerTool.bootstrapLogging()
        if kafka && connections.kafkaBrokers.isEmpty {
            throw ValidationError("--kafka needs LEDGER_KAFKA_BROKERS (or --kafka-brokers)")
        }
        let postgres = try await PostgresConnection.connect(url: connections.databaseURL, name: "audit-postgres")
        let redisConnection = redis ? try await RedisConnection.connect(url: connections.redisURL, name: "audit-redis") : nil
        let report: LedgerAuditor.Report
        do {
            report = try await LedgerAuditor(reader: LedgerReader(connection: postgres), namespace: connections.redisNamespace).audit(
                redis: redisConnection,
                kafka: kafka
                    ? .init(
                        configuration: KafkaConfiguration(brokers: connections.kafkaBrokers), topic: connections.kafkaTopic,
                        fromPosition: kafkaFromPosition, timeoutMs: kafkaTimeoutMs)
                    : nil,
                projectionWaitMs: projectionWaitMs)
        } catch {
            await redisConnection?.close()
            await postgres.close()
            throw error
        }
        await redisConnection?.close()
        await postgres.close()
        let compared = ["inline tables"] + (redis ? ["Redis"] : []) + (kafka ? ["Kafka topic \(connections.kafkaTopic)"] : [])
        print("audited \(report.eventCount) events (head position \(report.head)) against \(compared.joined(separator: ", "))")
        if kafka && kafkaFromPosition > 0 { print("topic compared from position \(kafkaFromPosition)") }
        if report.kafkaTrimmedPositions > 0 {
            print("\(report.kafkaTrimmedPositions) position(s) trimmed from the topic by retention (before the first retained message of their partition): not compared")
        }
        guard !report.differences.isEmpty else {
            print("no differences")
            return
        }
        print(TextTable(report.differences))
        print("\(report.differences.count) difference(s)")
        throw ExitCode(1)
    }
}
