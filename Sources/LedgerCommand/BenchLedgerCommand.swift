import ArgumentParser
import Foundation
import Ledger
import Logging
import Synchronization

/// Drives reserve commands through the group-commit writer against the configured
/// PostgreSQL and reports what it committed. A benchmark, not a test: run it on a quiet machine.
struct BenchLedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-ledger",
        abstract: "Benchmark the ledger writer: reservations committed per second, batch sizes, commit latency.")

    @OptionGroup var connections: ConnectionOptions

    @Option(help: "Concurrent submitters (closed loop: each waits for its answer, then sends the next).")
    var submitters = 2_000

    @Option(help: "Offered reservations per second (open loop; latency from the intended send time). 0: closed loop.")
    var rate = 0

    @Option(help: "Seconds to run.")
    var duration = 10

    @Option(help: "Products the load is spread over.")
    var products = 1

    @Option(help: "Writer connections (batches in flight at once).")
    var writerConnections = Limits().writerConnections

    @Option(help: "Folder of migrations to apply first.")
    var migrations = ConnectionOptions.environment["LEDGER_MIGRATIONS_DIR"] ?? "migrations"

    func run() async throws {
        LedgerTool.bootstrapLogging()
        let writerConnections = try await LedgerWriter.connections(url: connections.databaseURL, count: max(1, self.writerConnections))
        _ = try await Migrator(migrations: try Migration.load(directory: migrations)).migrate(writerConnections[0])
        let statistics = BenchStatistics()
        let writer = LedgerWriter(connections: writerConnections, onBatch: { statistics.record(batch: $0) })
        let metadata = BenchSale.metadata

        let report = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await writer.run() }
            let productIds = try await BenchSale.listProducts(products, on: writer)
            statistics.reset()
            let start = ContinuousClock.now
            let end = start + .seconds(duration)
            @Sendable func reserveOnce(_ sequence: Int) async {
                let sent = ContinuousClock.now
                let command = LedgerCommand.reserve(.init(
                    reservationId: ReservationID.v7(), productId: productIds[sequence % productIds.count],
                    userId: Int64.random(in: 1...10_000_000), quantity: 1, idempotencyKey: nil))
                let outcome = try? await writer.submit(command, metadata: metadata)
                statistics.record(outcome: outcome, latency: .now - sent)
            }
            if rate > 0 {
                try await openLoop(start: start, end: end, reserve: reserveOnce, statistics: statistics)
            } else {
                await withTaskGroup(of: Void.self) { submitters in
                    for submitter in 0..<self.submitters {
                        submitters.addTask {
                            var sequence = submitter
                            while ContinuousClock.now < end {
                                await reserveOnce(sequence)
                                sequence += self.submitters
                            }
                        }
                    }
                }
            }
            let elapsed = ContinuousClock.now - start
            writer.shutdown()
            try await group.waitForAll()
            return statistics.summary(elapsed: elapsed)
        }
        print(report)
        for connection in writerConnections { await connection.close() }
    }

    /// Sends at a fixed rate whatever the answers do; a request's latency counts from when it
    /// should have been sent, so a stalled writer shows up instead of slowing the sender.
    private func openLoop(
        start: ContinuousClock.Instant, end: ContinuousClock.Instant,
        reserve: @escaping @Sendable (Int) async -> Void, statistics: BenchStatistics
    ) async throws {
        let interval = Duration.nanoseconds(1_000_000_000 / rate)
        await withTaskGroup(of: Void.self) { group in
            var sequence = 0
            var intended = start
            while intended < end {
                if intended > .now { try? await Task.sleep(until: intended) }
                let sentAt = intended
                let number = sequence
                group.addTask {
                    let lateBy = ContinuousClock.now - sentAt
                    await reserve(number)
                    statistics.record(scheduleDelay: lateBy)
                }
                sequence += 1
                intended = start + interval * sequence
            }
        }
    }
}

/// The sale the ledger benchmarks write to: products with stock and limits no load exhausts.
enum BenchSale {
    static let metadata = EventMetadata(actor: "bench")

    /// Lists `count` products with fresh random ids; returns their ids.
    static func listProducts(_ count: Int, on writer: LedgerWriter) async throws -> [Int64] {
        let first = Int64.random(in: 1_000_000...9_000_000_000)
        let productIds = (0..<Int64(count)).map { first + $0 }
        for productId in productIds {
            _ = try await writer.submit(.listProduct(ProductListed(
                productId: productId, name: "bench \(productId)", priceMinor: 100, currency: "EUR", stock: 1_000_000_000,
                startsAt: Timestamp.now().adding(seconds: -60), endsAt: Timestamp.now().adding(seconds: 86_400),
                limitPerUser: 1_000, reservationTTLSeconds: 3_600)), metadata: metadata)
        }
        return productIds
    }
}

/// Counters and latency samples shared by the benchmark's tasks.
final class BenchStatistics: Sendable {
    private struct State {
        var committed = 0
        var rejected = 0
        var failed = 0
        var latenciesMs: [Double] = []
        var commitDurationsMs: [Double] = []
        var batchSizes: [Int] = []
        var scheduleDelayMs: [Double] = []
    }
    private let state = Mutex(State())

    func reset() { state.withLock { $0 = State() } }

    func record(batch: LedgerWriter.BatchReport) {
        state.withLock {
            $0.batchSizes.append(batch.size)
            $0.commitDurationsMs.append(batch.commitDuration.milliseconds)
        }
    }

    func record(outcome: CommandResult?, latency: Duration) {
        state.withLock {
            switch outcome {
            case .reservation?: $0.committed += 1
            case .rejected?: $0.rejected += 1
            default: $0.failed += 1
            }
            $0.latenciesMs.append(latency.milliseconds)
        }
    }

    func record(scheduleDelay: Duration) {
        state.withLock { $0.scheduleDelayMs.append(scheduleDelay.milliseconds) }
    }

    func summary(elapsed: Duration) -> String {
        state.withLock { state in
            // A request sent late (open loop) waited that long before `sent` was taken.
            let latencies = state.scheduleDelayMs.isEmpty
                ? state.latenciesMs : zip(state.latenciesMs, state.scheduleDelayMs).map { $0 + $1 }
            let seconds = elapsed.milliseconds / 1000
            let buckets = [(1, 1), (2, 10), (11, 100), (101, 500), (501, 1_000)]
            let distribution = buckets.map { low, high in
                "\(low)…\(high): \(state.batchSizes.filter { $0 >= low && $0 <= high }.count)"
            }.joined(separator: ", ")
            return """
                committed reservations:  \(state.committed) in \(String(format: "%.1f", seconds)) s = \(Int(Double(state.committed) / seconds))/s
                rejected: \(state.rejected), failed: \(state.failed)
                batches: \(state.batchSizes.count), mean size \(state.batchSizes.isEmpty ? 0 : state.batchSizes.reduce(0, +) / state.batchSizes.count); sizes \(distribution)
                request latency ms (submit → committed answer): p50 \(Percentiles.format(latencies, 0.5)), p99 \(Percentiles.format(latencies, 0.99)), max \(Percentiles.format(latencies, 1))
                batch transaction ms: p50 \(Percentiles.format(state.commitDurationsMs, 0.5)), p99 \(Percentiles.format(state.commitDurationsMs, 0.99))
                """
        }
    }
}

enum Percentiles {
    /// Nearest-rank percentile of `samples` (0 ≤ quantile ≤ 1).
    static func value(_ samples: [Double], _ quantile: Double) -> Double? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let rank = Int((quantile * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    static func format(_ samples: [Double], _ quantile: Double) -> String {
        value(samples, quantile).map { String(format: "%.2f", $0) } ?? "-"
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
