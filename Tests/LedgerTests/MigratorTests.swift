import Foundation
@testable import Ledger
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct MigratorTests {
    private func directory(_ files: [String: String]) throws -> String {
        let path = NSTemporaryDirectory() + TestServices.uniqueName("migrations")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, sql) in files {
            try sql.write(toFile: path + "/" + name, atomically: true, encoding: .utf8)
        }
        return path
    }

    /// The version `ledger serve` demands is the repository's newest migration, and a database
    /// reports none, then that one once migrated.
    @Test func requiredSchemaVersionIsTheNewestMigration() async throws {
        let newest = try #require(try Migration.load(directory: LedgerHarness.migrationsDirectory).last)
        #expect(Migrator.requiredSchemaVersion == newest.version, "raise requiredSchemaVersion with \(newest.name)")
        try await TestServices.withTemporaryDatabase { url in
            let connection = try await PostgresConnection.connect(url: url)
            #expect(try await Migrator.appliedSchemaVersion(connection) == 0)
            try await LedgerHarness.migrate(url)
            #expect(try await Migrator.appliedSchemaVersion(connection) == newest.version)
            await connection.close()
        }
    }

    /// An applied file whose comments were reworded is accepted (and its record brought up to
    /// date) only for the listed earlier checksums, each of which is the hash of today's text
    /// with the earlier comment put back.
    @Test func aCommentOnlyRevisionOfAnAppliedFileIsAcceptedAndRecorded() async throws {
        let current = try #require(try Migration.load(directory: LedgerHarness.migrationsDirectory).first { $0.name == "0001_ledger.sql" })
        let earlier = current.sql.replacingOccurrences(
            of: "-- invariants in docs/architecture.md,", with: "-- invariants in DESIGN.md §2,")
        #expect(earlier != current.sql)
        try await TestServices.withTemporaryDatabase { url in
            try await LedgerHarness.migrate(url)
            let connection = try await PostgresConnection.connect(url: url)
            func sha256(_ text: String) async throws -> String {
                try await connection.query("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex') AS sum", [.text(text)])[0]["sum"].string()
            }
            let earlierSum = try await sha256(earlier)
            #expect(Migrator.commentOnlyRevisions["0001_ledger.sql"] == [earlierSum], "the listed checksum is the earlier text's")
            try await connection.query("UPDATE schema_migrations SET checksum = $1 WHERE name = '0001_ledger.sql'", [.text(earlierSum)])
            try await LedgerHarness.migrate(url)
            let recorded = try await connection.query("SELECT checksum FROM schema_migrations WHERE name = '0001_ledger.sql'")[0]["checksum"].string()
            #expect(recorded == (try await sha256(current.sql)))

            // Any other earlier checksum is still refused.
            try await connection.query("UPDATE schema_migrations SET checksum = $1 WHERE name = '0001_ledger.sql'", [.text(try await sha256(earlier + "\n"))])
            let error = await #expect(throws: MigrationError.self) { try await LedgerHarness.migrate(url) }
            #expect(error?.code == .checksumMismatch)
            await connection.close()
        }
    }

    /// The constraints the writer turns into rejections exist under those names in the migrated
    /// schema, and so does the SQLSTATE of the guard tables' own check.
    @Test func theNamedContractsExistInTheMigratedSchema() async throws {
        try await TestServices.withTemporaryDatabase { url in
            try await LedgerHarness.migrate(url)
            let connection = try await PostgresConnection.connect(url: url)
            let names = Set(try await connection.query(
                "SELECT conname AS name FROM pg_constraint UNION SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            ).map { try $0["name"].string() })
            for constraint in LedgerConstraint.allCases {
                #expect(names.contains(constraint.rawValue), "\(constraint.rawValue) is in the schema")
            }
            let guardCheck = try await connection.query("SELECT prosrc FROM pg_proc WHERE proname = 'ledger_expect_rows'").map { try $0["prosrc"].string() }
            #expect(guardCheck.count == 1 && guardCheck[0].contains(SQLState.ledgerGuardMismatch.rawValue))
            await connection.close()
        }
    }

    /// The ledger's time conversions inline into the statements that use them (the writer's
    /// reads and appends, the relay's reads) instead of running as SQL functions, whose body
    /// PostgreSQL parses again for every statement; and they still convert exactly.
    @Test func theTimeConversionsInlineIntoTheStatementsThatUseThem() async throws {
        try await TestServices.withTemporaryDatabase { url in
            try await LedgerHarness.migrate(url)
            let connection = try await PostgresConnection.connect(url: url)
            let sql = "SELECT ledger_ms(ledger_time($1::int8)) AS ms, ledger_ms(p.starts_at) AS starts_ms FROM products p"
            let plan = try await connection.query("EXPLAIN (VERBOSE, COSTS OFF) " + sql, [.int64(0)]).map { try $0[0].string() }
            #expect(!plan.contains { $0.contains("ledger_ms(") || $0.contains("ledger_time(") }, "\(plan.joined(separator: "\n"))")
            for ms: Int64 in [0, -1, 1, 1_764_067_489_123, 253_402_300_799_999] {
                #expect(try await connection.query("SELECT ledger_ms(ledger_time($1::int8)) AS ms", [.int64(ms)])[0]["ms"].int64() == ms)
            }
            await connection.close()
        }
    }

    @Test func appliesInOrderOnceAndRefusesAnEditedFile() async throws {
        try await TestServices.withTemporaryDatabase { url in
            let path = try directory([
                "0002_second.sql": "INSERT INTO things VALUES (2);",
                "0001_first.sql": "CREATE TABLE things (v int8 PRIMARY KEY); INSERT INTO things VALUES (1);",
                "README.txt": "not a migration",
            ])
            let connection = try await PostgresConnection.connect(url: url)
            let first = try await Migrator(migrations: try Migration.load(directory: path)).migrate(connection)
            #expect(first.applied == ["0001_first.sql", "0002_second.sql"])

            let second = try await Migrator(migrations: try Migration.load(directory: path)).migrate(connection)
            #expect(second.applied.isEmpty)
            #expect(second.alreadyApplied == ["0001_first.sql", "0002_second.sql"])
            #expect(try await connection.query("SELECT count(*) AS c FROM things")[0]["c"].int64() == 2)

            try "INSERT INTO things VALUES (99);".write(toFile: path + "/0002_second.sql", atomically: true, encoding: .utf8)
            try "INSERT INTO things VALUES (3);".write(toFile: path + "/0003_third.sql", atomically: true, encoding: .utf8)
            let error = await #expect(throws: MigrationError.self) {
                _ = try await Migrator(migrations: try Migration.load(directory: path)).migrate(connection)
            }
            #expect(error?.code == .checksumMismatch)
            #expect(error?.description.contains("0002_second.sql") == true)
            // Nothing after the edited file ran.
            #expect(try await connection.query("SELECT array_agg(v ORDER BY v) AS vs FROM things")[0]["vs"].int64Array() == [1, 2])
            let recorded = try await connection.query("SELECT name, length(checksum) AS l FROM schema_migrations ORDER BY version")
            #expect(try recorded.map { try $0["name"].string() } == ["0001_first.sql", "0002_second.sql"])
            #expect(try recorded.map { try $0["l"].int() } == [64, 64])
            await connection.close()
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        try await TestServices.withTemporaryDatabase { url in
            let path = try directory([
                "0001_broken.sql": "CREATE TABLE half (v int8); INSERT INTO half VALUES ('oops');"
            ])
            let connection = try await PostgresConnection.connect(url: url)
            await #expect(throws: PostgresError.self) {
                _ = try await Migrator(migrations: try Migration.load(directory: path)).migrate(connection)
            }
            let leftovers = try await connection.query(
                "SELECT (to_regclass('half') IS NULL) AS gone, (SELECT count(*) FROM schema_migrations) AS n")[0]
            #expect(try leftovers["gone"].bool())
            #expect(try leftovers["n"].int64() == 0)
            await connection.close()
        }
    }

    @Test func concurrentMigratorsApplyEachFileOnce() async throws {
        try await TestServices.withTemporaryDatabase { url in
            let path = try directory(["0001_counter.sql": "CREATE TABLE counter (v int8); INSERT INTO counter VALUES (1);"])
            let migrations = try Migration.load(directory: path)
            let outcomes = try await withThrowingTaskGroup(of: Migrator.Outcome.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let connection = try await PostgresConnection.connect(url: url)
                        let outcome = try await Migrator(migrations: migrations).migrate(connection)
                        await connection.close()
                        return outcome
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.map(\.applied.count).reduce(0, +) == 1)
            let connection = try await PostgresConnection.connect(url: url)
            #expect(try await connection.query("SELECT count(*) AS c FROM counter")[0]["c"].int64() == 1)
            await connection.close()
        }
    }

    @Test func duplicateNumbersAreRefused() throws {
        let path = try directory(["0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 2;"])
        #expect(throws: MigrationError.self) { _ = try Migration.load(directory: path) }
    }
}
