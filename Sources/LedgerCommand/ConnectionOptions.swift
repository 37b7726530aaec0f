import API
import ArgumentParser
import Foundation
import HTTPTypes
import Projections

/// Where the three services are. Flags win over environment variables, which win over the
/// defaults (the ports `make services-up` uses).
struct ConnectionOptions: ParsableArguments {
    static let environment = ProcessInfo.processInfo.environment

    // URLs may carry passwords: ArgumentParser prints a default in --help, so these have none
    // there and the environment is read when the value is used.
    @Option(name: .customLong("database-url"), help: "PostgreSQL URL (env LEDGER_DATABASE_URL; default postgresql://ledger@127.0.0.1:54329/ledger).")
    var databaseURLFlag: String?

    @Option(name: .customLong("redis-url"), help: "Redis URL (env LEDGER_REDIS_URL; default redis://127.0.0.1:63799/0).")
    var redisURLFlag: String?

    var databaseURL: String { databaseURLFlag ?? Self.environment["LEDGER_DATABASE_URL"] ?? "postgresql://ledger@127.0.0.1:54329/ledger" }
    var redisURL: String { redisURLFlag ?? Self.environment["LEDGER_REDIS_URL"] ?? "redis://127.0.0.1:63799/0" }

    @Option(help: "Kafka bootstrap servers; empty starts an in-process mock cluster (env LEDGER_KAFKA_BROKERS).")
    var kafkaBrokers = environment["LEDGER_KAFKA_BROKERS"] ?? ""

    @Option(help: "Kafka topic that carries ledger events (env LEDGER_KAFKA_TOPIC).")
    var kafkaTopic = environment["LEDGER_KAFKA_TOPIC"] ?? "ledger.events"

    @Option(help: "Prefix of every Redis key, so several ledgers can share a Redis (env LEDGER_REDIS_NAMESPACE).")
    var redisNamespace = environment["LEDGER_REDIS_NAMESPACE"] ?? ProjectionKeys.defaultNamespace
}

/// How the API authenticates callers.
struct AuthOptions: ParsableArguments {
    @Option(name: .customLong("jwt-secret"), help: "HS256 secret of bearer tokens (env LEDGER_JWT_SECRET; never printed).")
    var jwtSecretFlag: String?

    var jwtSecret: String { jwtSecretFlag ?? ConnectionOptions.environment["LEDGER_JWT_SECRET"] ?? "" }

    @Option(help: "bearer (JWT) or trusted-header (a gateway sets the user id; env LEDGER_AUTH_MODE).")
    var authMode = ConnectionOptions.environment["LEDGER_AUTH_MODE"] ?? "bearer"

    @Option(help: "Header carrying the user id in trusted-header mode (env LEDGER_TRUSTED_USER_HEADER).")
    var trustedUserHeader = ConnectionOptions.environment["LEDGER_TRUSTED_USER_HEADER"] ?? "X-User-Id"

    @Option(help: "Header carrying the role (admin) in trusted-header mode (env LEDGER_TRUSTED_ROLE_HEADER).")
    var trustedRoleHeader = ConnectionOptions.environment["LEDGER_TRUSTED_ROLE_HEADER"] ?? "X-User-Role"

    @Option(name: .customLong("jwt-issuer"), help: "Issuer (iss) bearer tokens must carry, and that `ledger token` writes (env LEDGER_JWT_ISSUER).")
    var jwtIssuerFlag: String?

    @Option(name: .customLong("jwt-audience"), help: "Audience (aud) bearer tokens must carry, and that `ledger token` writes (env LEDGER_JWT_AUDIENCE).")
    var jwtAudienceFlag: String?

    var jwtIssuer: String? { jwtIssuerFlag ?? ConnectionOptions.environment["LEDGER_JWT_ISSUER"] }
    var jwtAudience: String? { jwtAudienceFlag ?? ConnectionOptions.environment["LEDGER_JWT_AUDIENCE"] }

    /// The authority for bearer tokens with this configuration.
    func tokenAuthority() async throws -> TokenAuthority {
        try await TokenAuthority(secret: jwtSecret, issuer: jwtIssuer, audience: jwtAudience)
    }

    func validate() throws {
        guard authMode == "bearer" || authMode == "trusted-header" else { throw ValidationError("--auth-mode is bearer or trusted-header") }
        for header in [trustedUserHeader, trustedRoleHeader] where HTTPField.Name(header) == nil {
            throw ValidationError("\(header) is not an HTTP header name")
        }
        if authMode == "bearer" && jwtSecret.utf8.count < TokenAuthority.minimumSecretBytes {
            throw ValidationError(
                "set LEDGER_JWT_SECRET to at least \(TokenAuthority.minimumSecretBytes) bytes (make services-up writes a development one to .local/env)")
        }
    }
}
