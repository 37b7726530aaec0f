import API
import Foundation
import Ledger
import Testing

/// The API's pure parts: rate limiting and the product cache's single flight.
@Suite struct APIUnitTests {
    @Test func aUserGetsTheBurstThenTheRate() {
        let limiter = UserRateLimiter(ratePerSecond: 10, burst: 3, maxUsers: 100)
        let start = ContinuousClock.now
        #expect((0..<5).map { _ in limiter.allow(1, at: start) } == [true, true, true, false, false])
        #expect(limiter.allow(2, at: start), "users have their own buckets")
        #expect(!limiter.allow(1, at: start + .milliseconds(50)), "half a token is not enough")
        #expect(limiter.allow(1, at: start + .milliseconds(100)))
        #expect(!limiter.allow(1, at: start + .milliseconds(100)))
        #expect((0..<3).map { _ in limiter.allow(1, at: start + .seconds(10)) } == [true, true, true], "refills up to the burst only")
        #expect(!limiter.allow(1, at: start + .seconds(10)))
    }

    @Test func concurrentMissesShareOneLoadAndSoldOutIsRemembered() async throws {
        let loads = LoadCounter()
        let listing = ProductListed(
            productId: 5, name: "x", priceMinor: 1, currency: "EUR", stock: 1, startsAt: Timestamp(epochMs: 0),
            endsAt: Timestamp(epochMs: 10_000_000_000_000), limitPerUser: 1, reservationTTLSeconds: 60)
        let catalog = ProductCatalog(ttlMs: 60_000, jitterMs: 0) { productId in
            await loads.increment()
            try await Task.sleep(for: .milliseconds(50))
            return productId == 5 ? ProductState(listing: listing, streamVersion: 1, totalStock: 1, reservedUnits: 0) : nil
        }
        let results = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<50 { group.addTask { try await catalog.product(5)?.productId } }
            return try await group.reduce(into: [Int64?]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: 5, count: 50))
        #expect(await loads.count == 1, "one load for fifty concurrent misses")
        #expect(catalog.fresh(6) == nil, "never loaded: nothing cached")
        #expect(try await catalog.product(6) == nil)
        #expect(catalog.fresh(6).map { $0 == nil } == true, "cached: the ledger has no product 6")
        #expect(try await catalog.sale(5)?.isSoldOut == false)
        catalog.markSoldOut(5)
        #expect(try await catalog.sale(5)?.isSoldOut == true)
        #expect(catalog.fresh(5)??.isSoldOut == true, "the cached answer carries the mark")
        catalog.invalidate(5)
        #expect(catalog.fresh(5) == nil, "forgotten until the next load")
        #expect(try await catalog.sale(5)?.isSoldOut == false, "reloaded: one unit is still available")
        #expect(await loads.count == 3)
    }

    @Test func anExpiredEntryIsNotFreshAndIsLoadedAgain() async throws {
        let loads = LoadCounter()
        let catalog = ProductCatalog(ttlMs: 30, jitterMs: 0) { _ in
            await loads.increment()
            return nil
        }
        _ = try await catalog.sale(9)
        #expect(catalog.fresh(9) != nil)
        try await Task.sleep(for: .milliseconds(60))
        #expect(catalog.fresh(9) == nil, "past its TTL")
        _ = try await catalog.sale(9)
        #expect(await loads.count == 2)
    }
}

actor LoadCounter {
    var count = 0
    func increment() { count += 1 }
}
