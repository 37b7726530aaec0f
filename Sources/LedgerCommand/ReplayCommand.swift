import ArgumentParser
import Ledger
import Logging
import Projections

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Rebuild every Redis read model from the PostgreSQL ledger into a new generation, switch to it, verify.",
        discussion: "The service keeps serving from the old generation until the switch. Exit status 1 when verification finds a difference.")

    @OptionGroup var connections: ConnectionOptions

    @Flag(inversion: .prefixedNo, help: "Compare the new read model with a fresh fold of the ledger afterwards.")
    var verify = true

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let postgres = try await PostgresConnection.connect(url: connections.databaseURL, name: "replay-postgres")
        let redis: RedisConnection
        do {
            redis = try await RedisConnection.connect(url: connections.redisURL, timeoutMs: Limits().replayRedisTimeoutMs, name: "replay-redis")
        } catch {
            await postgres.close()
            throw error
        }
        let report: ProjectionReplayer.Report
        do {
            report = try await ProjectionReplayer(reader: LedgerReader(connection: postgres), redis: redis, namespace: connections.redisNamespace).replay(verify: verify)
        } catch {
            await redis.close()
            await postgres.close()
            throw error
        }
        await redis.close()
        await postgres.close()
        let seconds = report.rebuildDuration.milliseconds / 1000
        let rate = seconds > 0 ? Int(Double(report.eventCount + report.caughtUpEvents) / seconds) : 0
        print("replayed \(report.eventCount) events of \(report.productCount) products into generation \(report.generation) "
            + "(+\(report.caughtUpEvents) caught up) and switched in \(String(format: "%.2f", seconds)) s: \(rate) events/s")
        guard verify else { return }
        guard !report.differences.isEmpty else {
            print("verified in \(String(format: "%.2f", report.verifyDuration.milliseconds / 1000)) s: the new read model equals the fold of the ledger")
            return
        }
        print(TextTable(report.differences))
        throw ExitCode(1)
    }
}
