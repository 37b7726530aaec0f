import Synchronization

/// Token buckets per key (a user id, a client address): each key gets `ratePerSecond` requests
/// a second with bursts up to `burst`, so one client cannot take the gate, the writer or the
/// reader from the rest. Holds at most `maxKeys` buckets; when full, it starts over (a rare,
/// brief leniency rather than memory that grows with the keys clients make up).
public final class RateLimiter<Key: Hashable & Sendable>: Sendable {
    private struct Bucket {
        var tokens: Double
        var updatedAt: ContinuousClock.Instant
    }

    public let policy: RateLimitPolicy
    private let maxKeys: Int
    private let buckets: Mutex<[Key: Bucket]>

    /// The table is sized for `maxKeys` at once: growing it rehashes every bucket under the
    /// lock every request takes, and a flash sale brings a new user with most requests.
    public init(_ policy: RateLimitPolicy, maxKeys: Int) {
        precondition(policy.ratePerSecond > 0 && policy.burst >= 1 && maxKeys > 0, "positive limits")
        self.policy = policy
        self.maxKeys = maxKeys
        buckets = Mutex(Dictionary(minimumCapacity: maxKeys))
    }

    /// How many keys' buckets the table holds without growing.
    var reservedCapacity: Int {
        buckets.withLock { $0.capacity }
    }

    /// Takes one token of `key`'s bucket when it has one.
    public func decide(_ key: Key, at now: ContinuousClock.Instant = .now) -> RateLimitDecision {
        let burst = Double(policy.burst)
        let (allowed, tokens): (Bool, Double) = buckets.withLock { buckets in
            if buckets[key] == nil && buckets.count >= maxKeys { buckets.removeAll(keepingCapacity: true) }
            var bucket = buckets[key] ?? Bucket(tokens: burst, updatedAt: now)
            let elapsed = now - bucket.updatedAt
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * policy.ratePerSecond)
            bucket.updatedAt = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[key] = bucket
            return (allowed, bucket.tokens)
        }
        return RateLimitDecision(policy: policy, isAllowed: allowed, tokensLeft: tokens)
    }
}

/// A rate limit as clients are told it (draft-ietf-httpapi-ratelimit-headers): a name, a
/// quota per window, and the steady rate and burst the buckets run on.
public struct RateLimitPolicy: Sendable, Hashable {
    public var name: String
    public var ratePerSecond: Double
    public var burst: Int

    public init(name: String, ratePerSecond: Double, burst: Int) {
        self.name = name
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    /// `RateLimit-Policy`: the burst is the quota, over the window that refills it.
    var headerValue: String {
        "\"\(name)\";q=\(burst);w=\(windowSeconds)"
    }

    /// Seconds a whole burst takes to refill, at least one.
    var windowSeconds: Int {
        max(1, Int((Double(burst) / ratePerSecond).rounded(.up)))
    }
}

/// One bucket's answer: allowed or not, and what the `RateLimit` header tells the client.
public struct RateLimitDecision: Sendable, Equatable {
    public let policy: RateLimitPolicy
    public let isAllowed: Bool
    /// Tokens left after this request (fractions refill over time).
    public let tokensLeft: Double

    /// Whole requests the client may still send now.
    public var remaining: Int { max(0, Int(tokensLeft.rounded(.down))) }

    /// Seconds until the next request is allowed: 0 while one is, else until a token refills.
    public var retryAfterSeconds: Int {
        remaining > 0 ? 0 : max(1, Int(((1 - tokensLeft) / policy.ratePerSecond).rounded(.up)))
    }

    /// `RateLimit`: the policy's name, the remaining quota and the seconds to the next token.
    var headerValue: String {
        "\"\(policy.name)\";r=\(remaining);t=\(retryAfterSeconds)"
    }
}
