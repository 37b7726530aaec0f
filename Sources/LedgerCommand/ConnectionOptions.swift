import ArgumentParser
import Foundation

/// Where the three services are. Flags win over environment variables, which win over the
/// defaults (the ports `make services-up` uses).
struct ConnectionOptions: ParsableArguments {
    static let environment = ProcessInfo.processInfo.environment

    @Option(help: "PostgreSQL URL (env LEDGER_DATABASE_URL).")
    var databaseURL = environment["LEDGER_DATABASE_URL"] ?? "postgresql://ledger@127.0.0.1:54329/ledger"

    @Option(help: "Redis URL (env LEDGER_REDIS_URL).")
    var redisURL = environment["LEDGER_REDIS_URL"] ?? "redis://127.0.0.1:63799/0"

    @Option(help: "Kafka bootstrap servers; empty starts an in-process mock cluster (env LEDGER_KAFKA_BROKERS).")
    var kafkaBrokers = environment["LEDGER_KAFKA_BROKERS"] ?? ""

    @Option(help: "Kafka topic that carries ledger events (env LEDGER_KAFKA_TOPIC).")
    var kafkaTopic = environment["LEDGER_KAFKA_TOPIC"] ?? "ledger.events"
}
