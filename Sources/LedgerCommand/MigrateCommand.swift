import ArgumentParser
import Foundation
import Ledger
import Logging

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply the SQL files in migrations/ that are not applied yet.")

    @OptionGroup var connections: ConnectionOptions

    @Option(help: "Folder of NNNN_name.sql files (env LEDGER_MIGRATIONS_DIR).")
    var migrations = ConnectionOptions.environment["LEDGER_MIGRATIONS_DIR"] ?? "migrations"

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let logger = Logger(label: "ledger.migrate")
        let migrator = Migrator(migrations: try Migration.load(directory: migrations))
        let connection = try await PostgresConnection.connect(url: connections.databaseURL)
        let outcome: Migrator.Outcome
        do {
            outcome = try await migrator.migrate(connection)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
        for name in outcome.applied {
            logger.info("applied migration", metadata: ["file": "\(name)"])
        }
        logger.info(
            "database is up to date",
            metadata: ["applied": "\(outcome.applied.count)", "alreadyApplied": "\(outcome.alreadyApplied.count)"])
    }
}
