@testable import API
import Synchronization
import Testing

/// `/ready` is open to anyone: its dependency checks run at most once per max age, one at a time.
@Suite struct ReadinessCacheTests {
    final class Checks: Sendable {
        let count = Atomic<Int>(0)
    }

    @Test func concurrentCallersShareOneFreshReport() async throws {
        let checks = Checks()
        let cache = ReadinessCache(maxAgeMs: 60_000) {
            checks.count.add(1, ordering: .relaxed)
            return ReadinessProbe.Report(failures: [:])
        }
        #expect(await cache.report().isReady)
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<100 { group.addTask { await cache.report().isReady } }
            for await ready in group { #expect(ready) }
        }
        #expect(checks.count.load(ordering: .relaxed) == 1, "one check for 101 callers")
    }

    @Test func aStaleReportIsRefreshedOnceAndCallersMeanwhileGetThePreviousOne() async throws {
        let checks = Checks()
        let (releases, release) = AsyncStream<Void>.makeStream()
        let cache = ReadinessCache(maxAgeMs: 1) {
            let number = checks.count.add(1, ordering: .relaxed).newValue
            guard number > 1 else { return ReadinessProbe.Report(failures: [:]) }
            var waiting = releases.makeAsyncIterator()
            _ = await waiting.next()
            return ReadinessProbe.Report(failures: ["redis": "down"])
        }
        #expect(await cache.report().isReady)
        try await Task.sleep(for: .milliseconds(5))
        async let refreshed = cache.report()
        while checks.count.load(ordering: .relaxed) < 2 { try await Task.sleep(for: .milliseconds(1)) }
        #expect(await cache.report().isReady, "the previous report while the refresh runs, without a check of its own")
        #expect(checks.count.load(ordering: .relaxed) == 2)
        release.yield()
        #expect(await refreshed.failures == ["redis": "down"])
    }
}
