import API
import ArgumentParser
import Foundation
import Projections

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

    @Option(help: "Prefix of every Redis key, so several ledgers can share a Redis (env LEDGER_REDIS_NAMESPACE).")
    var redisNamespace = environment["LEDGER_REDIS_NAMESPACE"] ?? ProjectionKeys.defaultNamespace
}

/// How the API authenticates callers.
struct AuthOptions: ParsableArguments {
    @Option(help: "HS256 secret of bearer tokens (env LEDGER_JWT_SECRET).")
    var jwtSecret = ConnectionOptions.environment["LEDGER_JWT_SECRET"] ?? ""

    @Option(help: "bearer (JWT) or trusted-header (a gateway sets the user id; env LEDGER_AUTH_MODE).")
    var authMode = ConnectionOptions.environment["LEDGER_AUTH_MODE"] ?? "bearer"

    @Option(help: "Header carrying the user id in trusted-header mode (env LEDGER_TRUSTED_USER_HEADER); the role comes from X-User-Role.")
    var trustedUserHeader = ConnectionOptions.environment["LEDGER_TRUSTED_USER_HEADER"] ?? "X-User-Id"

    func validate() throws {
        guard authMode == "bearer" || authMode == "trusted-header" else { throw ValidationError("--auth-mode is bearer or trusted-header") }
        if authMode == "bearer" && jwtSecret.utf8.count < TokenAuthority.minimumSecretBytes {
            throw ValidationError(
                "set LEDGER_JWT_SECRET to at least \(TokenAuthority.minimumSecretBytes) bytes (make services-up writes a development one to .local/env)")
        }
    }
}
