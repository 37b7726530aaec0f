@testable import API
import Synchronization
import Testing

/// `/ready` is open to anyone: its dependency checks run at most once per max age, one at a time.
@Suite struct ReadinessCacheTests {
    final class Checks: Sendable {
        let count = Atomic<Int>(0)
    }

    @Test func concurrentCallersShareOneCheckUntilItIsStale() async throws {
        let checks = Checks()
        let cache = ReadinessCache(maxAgeMs: 200) {
            let number = checks.count.add(1, ordering: .relaxed).newValue
            try? await Task.sleep(for: .milliseconds(50))
            return ReadinessProbe.Report(failures: number == 1 ? [:] : ["redis": "down"])
        }
        #expect(await cache.report().isReady)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 { group.addTask { await cache.report().isReady } }
            for await ready in group { #expect(ready, "the fresh report, not a check of their own") }
        }
        #expect(checks.count.load(ordering: .relaxed) == 1)
        try await Task.sleep(for: .milliseconds(250))
        // Stale: one caller refreshes; callers meanwhile get the last report.
        async let refreshed = cache.report()
        try await Task.sleep(for: .milliseconds(10))
        #expect(await cache.report().isReady, "the previous report while one refresh runs")
        #expect(await refreshed.failures == ["redis": "down"])
        #expect(checks.count.load(ordering: .relaxed) == 2)
    }
}
