@testable import API
import Testing

@Suite struct RateLimiterTests {
    /// A new user with most requests must never make the table grow while serving (growing
    /// rehashes every bucket under the lock all reservations take); when full it starts over.
    @Test func theTableIsSizedAtOnceAndStartsOverWhenFullWithoutGrowing() {
        let maxUsers = 50_000
        let limiter = RateLimiter<Int64>(RateLimitPolicy(name: "writes", ratePerSecond: 1, burst: 1), maxKeys: maxUsers)
        let reserved = limiter.reservedCapacity
        #expect(reserved >= maxUsers)
        let start = ContinuousClock.now
        for user in 1...Int64(maxUsers + 10) { #expect(limiter.decide(user, at: start).isAllowed) }
        #expect(limiter.reservedCapacity == reserved)
        // User 1's empty bucket was forgotten when the table started over; the last user's was not.
        #expect(limiter.decide(1, at: start).isAllowed)
        #expect(!limiter.decide(Int64(maxUsers + 10), at: start).isAllowed)
    }
}
