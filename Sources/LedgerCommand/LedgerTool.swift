import ArgumentParser
import Foundation
import Ledger
import Logging

@main
struct LedgerTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Flash-sale order ledger: PostgreSQL event store, Redis gate, Kafka relay.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, TokenCommand.self, ReplayCommand.self, AuditCommand.self, StatusCommand.self, ChaosCommand.self, ChaosCheckCommand.self,
            KafkaDevCommand.self,
            BenchCommand.self, BenchLedgerCommand.self, BenchProjectionsCommand.self,
        ]
    )

    static func bootstrapLogging() {
        let level = ProcessInfo.processInfo.environment["LEDGER_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = DeferredMetadataLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
    }
}
