import Synchronization

/// Per-user token buckets for the write path: each user gets `ratePerSecond` attempts a second
/// with bursts up to `burst`, so one client cannot take the gate and the writer from the rest.
/// Holds at most `maxUsers` buckets; when full, it starts over (a rare, brief leniency rather
/// than unbounded memory).
public final class UserRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updatedAt: ContinuousClock.Instant
    }

    private let ratePerSecond: Double
    private let burst: Double
    private let maxUsers: Int
    private let buckets: Mutex<[Int64: Bucket]>

    /// The table is sized for `maxUsers` at once: growing it rehashes every bucket under the
    /// lock every reservation takes, and a flash sale brings a new user with most requests.
    public init(ratePerSecond: Double, burst: Int, maxUsers: Int) {
        precondition(ratePerSecond > 0 && burst >= 1 && maxUsers > 0, "positive limits")
        self.ratePerSecond = ratePerSecond
        self.burst = Double(burst)
        self.maxUsers = maxUsers
        buckets = Mutex(Dictionary(minimumCapacity: maxUsers))
    }

    /// How many users' buckets the table holds without growing.
    var reservedCapacity: Int {
        buckets.withLock { $0.capacity }
    }

    /// Takes one token of `userId`'s bucket; false when it is empty.
    public func allow(_ userId: Int64, at now: ContinuousClock.Instant = .now) -> Bool {
        buckets.withLock { buckets in
            if buckets[userId] == nil && buckets.count >= maxUsers { buckets.removeAll(keepingCapacity: true) }
            var bucket = buckets[userId] ?? Bucket(tokens: burst, updatedAt: now)
            let elapsed = now - bucket.updatedAt
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * ratePerSecond)
            bucket.updatedAt = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[userId] = bucket
            return allowed
        }
    }
}
