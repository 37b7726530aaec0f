@testable import API
import Foundation
import Ledger
import Synchronization
import Testing

/// The API's pure parts: rate limiting and the product cache's single flight.
@Suite struct APIUnitTests {
    @Test func aUserGetsTheBurstThenTheRate() {
        let limiter = RateLimiter<Int64>(RateLimitPolicy(name: "writes", ratePerSecond: 10, burst: 3), maxKeys: 100)
        let start = ContinuousClock.now
        func allow(_ user: Int64, at instant: ContinuousClock.Instant) -> Bool { limiter.decide(user, at: instant).isAllowed }
        #expect((0..<5).map { _ in allow(1, at: start) } == [true, true, true, false, false])
        #expect(allow(2, at: start), "users have their own buckets")
        #expect(!allow(1, at: start + .milliseconds(50)), "half a token is not enough")
        #expect(allow(1, at: start + .milliseconds(100)))
        #expect(!allow(1, at: start + .milliseconds(100)))
        #expect((0..<3).map { _ in allow(1, at: start + .seconds(10)) } == [true, true, true], "refills up to the burst only")
        #expect(!allow(1, at: start + .seconds(10)))
    }

    /// What a refused client is told (draft-ietf-httpapi-ratelimit-headers): the policy's quota
    /// and window, nothing remaining, and the seconds until a token is back.
    @Test func aRefusalSaysTheQuotaWhatRemainsAndWhenToComeBack() {
        let limiter = RateLimiter<String>(RateLimitPolicy(name: "anonymous", ratePerSecond: 0.5, burst: 2), maxKeys: 10)
        let start = ContinuousClock.now
        let first = limiter.decide("10.0.0.1", at: start)
        #expect(first.isAllowed && first.remaining == 1 && first.retryAfterSeconds == 0)
        #expect(first.headerValue == #""anonymous";r=1;t=0"#)
        #expect(limiter.decide("10.0.0.1", at: start).isAllowed)
        let refused = limiter.decide("10.0.0.1", at: start + .milliseconds(500))
        #expect(!refused.isAllowed && refused.remaining == 0)
        #expect(refused.retryAfterSeconds == 2, "a quarter token is back after 0.5 s; the rest takes 1.5 s, rounded up")
        #expect(refused.policy.headerValue == #""anonymous";q=2;w=4"#)
        let problem = Problem.rateLimited(refused, "slow down")
        #expect(problem.status == .tooManyRequests && problem.code == .rateLimited && problem.retryAfterSeconds == 2)
    }

    /// Ids nobody listed must not grow the cache: unknown answers stop at their bound, and
    /// beyond the whole bound loads are answered without being kept.
    @Test func theCacheStaysWithinItsBoundsWhateverIdsAreAskedFor() async throws {
        let loads = LoadCounter()
        let listing = Self.listing(productId: 1)
        let catalog = ProductCatalog(ttlMs: 60_000, jitterMs: 0, maxEntries: 20, maxUnknownEntries: 5) { productId in
            await loads.increment()
            guard productId <= 100 else { return nil }
            var product = listing
            product.productId = productId
            return .init(product: ProductState(listing: product, streamVersion: 1, totalStock: 1, reservedUnits: 0), isSoldOut: false)
        }
        for id in Int64(1_000)..<1_500 { #expect(try await catalog.product(id) == nil) }
        #expect(catalog.count == 5, "unknown products stop at their bound")
        for id in Int64(1)...40 { #expect(try await catalog.product(id)?.productId == id) }
        #expect(catalog.count == 20, "known ones fill the rest and no more")
        let before = await loads.count
        #expect(try await catalog.product(1)?.productId == 1, "a kept product is served from the cache")
        #expect(try await catalog.product(40)?.productId == 40, "one past the bound is still answered")
        #expect(await loads.count == before + 1)
    }

    @Test func concurrentMissesShareOneLoadAndSoldOutIsRemembered() async throws {
        let loads = LoadCounter()
        let listing = Self.listing(productId: 5)
        let catalog = ProductCatalog(ttlMs: 60_000, jitterMs: 0, maxEntries: 100, maxUnknownEntries: 10) { productId in
            await loads.increment()
            try await Task.sleep(for: .milliseconds(50))
            guard productId == 5 else { return nil }
            return .init(product: ProductState(listing: listing, streamVersion: 1, totalStock: 1, reservedUnits: 0), isSoldOut: false)
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
        let catalog = ProductCatalog(ttlMs: 30, jitterMs: 0, maxEntries: 100, maxUnknownEntries: 10) { _ in
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

    /// A loaded sold-out mark is as old as the load: one that outlasts the TTL caches none.
    /// The loader's word alone marks, whatever the product's units (a copy may be behind).
    @Test func aLoadedSoldOutMarkCountsFromTheLoadsStartOnTheLoadersWord() async throws {
        let soldOut = Atomic<Bool>(true), slow = Atomic<Bool>(false)
        let product = ProductState(listing: Self.listing(productId: 7), streamVersion: 1, totalStock: 1, reservedUnits: 1)
        let catalog = ProductCatalog(ttlMs: 200, jitterMs: 0, maxEntries: 100, maxUnknownEntries: 10) { _ in
            if slow.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(300)) }
            return .init(product: product, isSoldOut: soldOut.load(ordering: .relaxed))
        }
        #expect(try await catalog.sale(7)?.isSoldOut == true)
        #expect(catalog.fresh(7)??.isSoldOut == true, "a quick load's mark is kept")
        catalog.invalidate(7)
        slow.store(true, ordering: .relaxed)
        #expect(try await catalog.sale(7)?.isSoldOut == true, "the load's own answer")
        #expect(catalog.fresh(7)??.isSoldOut == false, "a load longer than the TTL leaves no mark")
        catalog.invalidate(7)
        soldOut.store(false, ordering: .relaxed)
        slow.store(false, ordering: .relaxed)
        #expect(try await catalog.sale(7)?.isSoldOut == false, "no units, but the loader did not say sold out")
        #expect(catalog.fresh(7)??.isSoldOut == false)
    }

    /// A listing open from the epoch for centuries, one unit.
    static func listing(productId: Int64) -> ProductListed {
        ProductListed(
            productId: productId, name: "x", priceMinor: 1, currency: "EUR", stock: 1, startsAt: Timestamp(epochMs: 0),
            endsAt: Timestamp(epochMs: 10_000_000_000_000), limitPerUser: 1, reservationTTLSeconds: 60)
    }
}

actor LoadCounter {
    var count = 0
    func increment() { count += 1 }
}
