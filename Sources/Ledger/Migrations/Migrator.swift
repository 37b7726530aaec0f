/// Applies migrations in order, each in its own transaction, recording version, name and the
/// SHA-256 of its text in `schema_migrations`. Applied files are skipped; an applied file
/// whose text changed stops the run before anything newer is applied. A session advisory lock
/// serialises concurrent migrators (several instances starting at once).
public struct Migrator: Sendable {
    public struct Outcome: Sendable, Equatable {
        public var applied: [String] = []
        public var alreadyApplied: [String] = []
    }

    /// Arbitrary constant shared by every instance of this service.
    static let advisoryLockKey: Int64 = 0x5EC_1111

    /// The newest migration this build's SQL needs (a test holds it equal to the newest file in
    /// `migrations/`). `ledger serve` refuses a database behind it.
    public static let requiredSchemaVersion: Int64 = 5

    /// The newest migration applied to the database; 0 when none is.
    public static func appliedSchemaVersion(_ connection: PostgresConnection) async throws -> Int64 {
        let present = try await connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")[0]["present"].bool()
        guard present else { return 0 }
        return try await connection.query("SELECT coalesce(max(version), 0) AS version FROM schema_migrations")[0]["version"].int64()
    }

    /// Checksums of earlier texts of applied files that differ from today's only in comments
    /// (a test rebuilds each earlier text and checks it). A database that recorded one is
    /// brought up to date instead of refused; any other change is still refused.
    static let commentOnlyRevisions: [String: Set<String>] = [
        // 0001 cited a design document outside the repository.
        "0001_ledger.sql": ["e8091e99f04c8a3de863f2a8545e8f5d7bfa607e8154e7aec7471ceefa27de23"],
    ]

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    public func migrate(_ connection: PostgresConnection) async throws -> Outcome {
        let migrations = self.migrations
        return try await connection.withSession { session in
            try session.query("SELECT pg_advisory_lock($1)", [.int64(Self.advisoryLockKey)])
            defer { _ = try? session.query("SELECT pg_advisory_unlock($1)", [.int64(Self.advisoryLockKey)]) }
            try session.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    bigint PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
            var recorded = [Int64: (name: String, checksum: String)]()
            for row in try session.query("SELECT version, name, checksum FROM schema_migrations") {
                recorded[try row["version"].int64()] = (try row["name"].string(), try row["checksum"].string())
            }
            var outcome = Outcome()
            for migration in migrations {
                let checksum = try session.query(
                    "SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS sum", [.text(migration.sql)]
                )[0]["sum"].string()
                if let existing = recorded[migration.version] {
                    if existing.checksum != checksum, Self.commentOnlyRevisions[migration.name]?.contains(existing.checksum) == true {
                        try session.query(
                            "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", [.int64(migration.version), .text(checksum)])
                        outcome.alreadyApplied.append(migration.name)
                        continue
                    }
                    guard existing.checksum == checksum else {
                        throw MigrationError(
                            code: .checksumMismatch,
                            message: "\(migration.name) was changed after it was applied (recorded \(existing.checksum.prefix(12)), file \(checksum.prefix(12))); add a new migration instead of editing it")
                    }
                    outcome.alreadyApplied.append(migration.name)
                    continue
                }
                try session.transaction { session in
                    try session.runScript(migration.sql)
                    try session.query(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [.int64(migration.version), .text(migration.name), .text(checksum)])
                }
                outcome.applied.append(migration.name)
            }
            return outcome
        }
    }
}
