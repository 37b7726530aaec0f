import Foundation
import Ledger
import Synchronization
import TestSupport
import Testing

extension ServerRestartTests {
    /// PostgreSQL restarts while batches are in flight. Every caller hears either "committed"
    /// (and the reservation is in the ledger) or a retriable error; nothing is half-written,
    /// and the writer goes on committing once the server is back.
    @Test func aRestartMidBatchNeverReportsAFalseCommit() async throws {
        try await LedgerHarness.run { ledger in
            _ = try await ledger.submit(.listProduct(LedgerHarness.listing(productId: 1, stock: 10_000_000, limitPerUser: 1_000)))
            let outcomes = Outcomes()
            let stop = ContinuousClock.now + .seconds(4)
            let restartedAt = try await withThrowingTaskGroup(of: ContinuousClock.Instant?.self) { group in
                for submitter in 0..<6 {
                    group.addTask {
                        var sequence = 0
                        while ContinuousClock.now < stop {
                            sequence += 1
                            let id = ReservationID.v7()
                            do {
                                let result = try await ledger.submit(.reserve(.init(
                                    reservationId: id, productId: 1, userId: Int64(submitter + 1), quantity: 1,
                                    idempotencyKey: "s\(submitter)-\(sequence)")))
                                if result.reservation != nil { outcomes.committed.withLock { $0.append((id, .now)) } }
                            } catch {
                                outcomes.failures.withLock { $0.append((error as? LedgerError)?.isRetriable == true ? nil : "\(error)") }
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                        return nil
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(1_000))
                    try await TestServices.servicesScript("restart-postgres")
                    return .now
                }
                var restartedAt: ContinuousClock.Instant?
                for try await instant in group where instant != nil { restartedAt = instant }
                return restartedAt!
            }

            let errors = outcomes.failures.withLock { $0 }
            #expect(errors.compactMap { $0 } == [], "every failure is a retriable LedgerError")
            let acknowledged = outcomes.committed.withLock { $0 }
            #expect(acknowledged.contains { $0.1 > restartedAt }, "the writer commits again after the restart")
            for (id, _) in acknowledged {
                #expect(try await ledger.reader.reservation(id)?.status == .reserved, "acknowledged \(id) is in the ledger")
            }
            let problems = try await ledger.ledgerIsConsistent()
            #expect(problems.isEmpty, "\(problems)")
            print("restart test: \(acknowledged.count) acknowledged, \(errors.count) retriable errors")
        }
    }
}

private final class Outcomes: Sendable {
    let committed = Mutex<[(ReservationID, ContinuousClock.Instant)]>([])
    /// nil for a retriable `LedgerError`, else the unexpected error's text.
    let failures = Mutex<[String?]>([])
}
