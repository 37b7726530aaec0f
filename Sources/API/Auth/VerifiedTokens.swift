import Foundation
import Synchronization

/// Tokens whose signature was already checked, until they expire: a flash-sale client sends the
/// same token many times, and HS256 verification (base64, JSON, HMAC) was the largest cost of a
/// cheap answer. Keyed by the whole token, signature included. Bounded: starts over when full.
final class VerifiedTokens: Sendable {
    private let capacity: Int
    private let entries: Mutex<[String: (identity: Identity, expiresAt: Date)]>

    /// The table is sized for `capacity` at once: growing it rehashed every token held (64,000
    /// tokens of ~200 bytes: ~30 ms) under the lock every request takes, a latency spike for all.
    init(capacity: Int) {
        self.capacity = capacity
        entries = Mutex(Dictionary(minimumCapacity: capacity))
    }

    /// How many tokens the table holds without growing.
    var reservedCapacity: Int {
        entries.withLock { $0.capacity }
    }

    func identity(_ token: String, at now: Date) -> Identity? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard entry.expiresAt > now else {
                entries[token] = nil
                return nil
            }
            return entry.identity
        }
    }

    func remember(_ token: String, _ identity: Identity, until expiresAt: Date) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = (identity, expiresAt)
        }
    }
}
