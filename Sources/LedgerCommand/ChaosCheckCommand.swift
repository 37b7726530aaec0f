import ArgumentParser
import Foundation
import Ledger
import LoadGenerator

struct ChaosCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos-check",
        abstract: "Judge a chaos run's client history against the ledger, independently of `ledger audit`.",
        discussion: """
            The history is a JSON array of operations (kind, startMs, endMs, userId, productId, quantity, \
            idempotencyKey, reservationId, outcome). Prints the verdict as JSON; exit status 0 when it \
            found no violation, 2 otherwise.
            """)

    @OptionGroup var connections: ConnectionOptions

    @Option(help: "The history file (JSON).")
    var history: String

    @Option(help: "How far each request's window is widened for the refusal checks, in milliseconds.")
    var slackMs: Int64 = 1_000

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let operations = try JSONDecoder().decode([ChaosOperation].self, from: Data(contentsOf: URL(fileURLWithPath: history)))
        let postgres = try await PostgresConnection.connect(url: connections.databaseURL, name: "chaos-check-postgres")
        let facts: ChaosLedgerFacts
        do {
            facts = try await ChaosLedgerFacts.read(on: postgres)
        } catch {
            await postgres.close()
            throw error
        }
        await postgres.close()
        let verdict = ChaosChecker.check(operations, against: facts, slackMs: slackMs)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(verdict), as: UTF8.self))
        if !verdict.isClean { throw ExitCode(2) }
    }
}
