import Foundation
import Ledger
import Projections
import TestSupport
import Testing

/// The cooperative pool has as many threads as cores (2 here). Five blocking calls in flight
/// at once would starve it if any ran there; a heartbeat task proves they do not.
@Suite(.timeLimit(.minutes(3))) struct CooperativePoolTests {
    @Test func heartbeatKeepsTickingWhileBlockingCallsAreInFlight() async throws {
        let databaseURL = try TestServices.databaseURL()
        let redisURL = try TestServices.redisURL()
        let postgres = try await (0..<3).asyncMap { _ in try await PostgresConnection.connect(url: databaseURL) }
        let redis = try await (0..<2).asyncMap { _ in try await RedisConnection.connect(url: redisURL) }
        let emptyList = RedisArgument(TestServices.uniqueName("never-pushed"))

        let clock = ContinuousClock()
        let start = clock.now
        let ticks = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for connection in postgres {
                group.addTask { try await connection.query("SELECT pg_sleep(2)"); return [] }
            }
            for connection in redis {
                group.addTask { _ = try await connection.command(["BLPOP", emptyList, "2"]); return [] }
            }
            group.addTask {
                var ticks = [Duration]()
                while clock.now - start < .milliseconds(1_800) {
                    try await Task.sleep(for: .milliseconds(20))
                    ticks.append(clock.now - start)
                }
                return ticks
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let elapsed = clock.now - start
        #expect(elapsed >= .seconds(2), "the blocking calls really blocked for 2 s")
        // Sleeping 20 ms at a time for 1.8 s gives ~80 ticks when the pool is free, at most one
        // when the calls hold it (the loop ends before they return). A starved pool shows as one
        // gap of about the 2 s the calls block; the parallel suite's own load stretches gaps to a
        // few hundred ms (0.39 s seen in CI) and thins the ticks (4 seen beside the process
        // tests' loads), so the bars are: more than the one tick a starved pool allows, and no
        // gap near the 2 s of the calls.
        #expect(ticks.count >= 2, "heartbeat ticked \(ticks.count) times")
        let gaps = zip(ticks.dropFirst(), ticks).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 < .seconds(1) }, "largest gap \(gaps.max() ?? .zero)")

        for connection in postgres { await connection.close() }
        for connection in redis { await connection.close() }
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var values = [T]()
        for element in self { values.append(try await transform(element)) }
        return values
    }
}
