import Foundation
import Ledger
import MetricsTestKit
import Synchronization
import TestSupport
import Testing

/// The writer sheds by waiting time: a backlog it cannot clear in time is answered
/// `overloaded` (nothing decided, retry) instead of being committed seconds late, and nothing
/// it answered "committed" is missing.
@Suite(.timeLimit(.minutes(3))) struct WriterSheddingTests {
    @Test func aStandingBacklogIsShedAndEveryCommitIsInTheLedger() async throws {
        var limits = Limits()
        limits.writerMaxBatchSize = 10
        limits.writerBatchDelayMs = 0
        limits.sheddingTargetMs = 20
        limits.sheddingIntervalMs = 40
        let metrics = TestMetrics()
        try await LedgerHarness.withWriterConnection(limits: limits) { connection, reader in
            let writer = LedgerWriter(connection: connection, limits: limits, metrics: metrics)
            try await withThrowingTaskGroup(of: Void.self) { group in
                // A backlog of 300 listings before the writer runs: each waits far past the target.
                async let submitted = withTaskGroup(of: (Int64, Result<CommandResult, LedgerError>).self) { submitters in
                    for id in Int64(1)...300 {
                        submitters.addTask {
                            do {
                                return (id, .success(try await writer.submit(.listProduct(LedgerHarness.listing(productId: id, stock: 1)), metadata: LedgerHarness.testMetadata)))
                            } catch {
                                return (id, .failure(error as! LedgerError))
                            }
                        }
                    }
                    return await submitters.reduce(into: [Int64: Result<CommandResult, LedgerError>]()) { $0[$1.0] = $1.1 }
                }
                while writer.queueDepth < 300 { try await Task.sleep(for: .milliseconds(5)) }
                try await Task.sleep(for: .milliseconds(100))
                group.addTask { try await writer.run() }
                let all = await submitted
                let committed = Set(all.compactMap { id, outcome in
                    if case .success(let result) = outcome, result.rejection == nil { return id }
                    return nil
                })
                let shed = all.filter { if case .failure(let error) = $0.value { return error.code == .overloaded }; return false }
                #expect(committed.count + shed.count == 300, "every command committed or was shed: \(all.filter { !committed.contains($0.key) && shed[$0.key] == nil })")
                #expect(committed.count >= 10, "the first batches ran before the backlog was judged standing")
                #expect(shed.count >= 100, "the rest of the backlog was shed, not committed late (\(committed.count) committed)")
                for id in Int64(1)...300 {
                    #expect((try await reader.product(id) != nil) == committed.contains(id), "product \(id): in the ledger exactly when acknowledged")
                }
                #expect(try metrics.expectCounter("ledger_writer_failed_commands_total", [("code", "overloaded")]).totalValue == shed.count)

                // Drained: new work is taken again.
                let fresh = try await writer.submit(.listProduct(LedgerHarness.listing(productId: 301, stock: 1)), metadata: LedgerHarness.testMetadata)
                #expect(fresh.rejection == nil)
                #expect(!writer.isSheddingNewWork)
                writer.shutdown()
                try await group.waitForAll()
            }
        }
    }
}
