import Ledger
import Synchronization

/// The in-process product cache of the write path: sale config and window without a network
/// hop, and a local sold-out flag so the losing 99 % are answered without touching Redis.
///
/// Entries live `ttlMs` plus a random jitter (so a fleet does not reload in step); concurrent
/// misses of one product share a single load (single-flight). A sold-out mark lasts one TTL,
/// so stock added elsewhere reopens the sale within it.
public final class ProductCatalog: Sendable {
    public typealias Loader = @Sendable (Int64) async throws -> ProductState?

    private enum Entry {
        case loading([CheckedContinuation<Sale??, Error>])
        case loaded(ProductState?, expiresAt: ContinuousClock.Instant, soldOutUntil: ContinuousClock.Instant?)
    }

    private let entries = Mutex<[Int64: Entry]>([:])
    private let load: Loader
    private let ttl: Duration
    private let jitterMs: Int

    public init(ttlMs: Int, jitterMs: Int, load: @escaping Loader) {
        precondition(ttlMs > 0 && jitterMs >= 0, "a positive TTL")
        self.load = load
        self.ttl = .milliseconds(ttlMs)
        self.jitterMs = jitterMs
    }

    /// A product as the write path sees it: its state and whether a recent answer said sold out.
    public struct Sale: Sendable {
        public var product: ProductState
        public var isSoldOut: Bool
    }

    /// The product (nil when the ledger has none), from the cache when fresh.
    public func product(_ productId: Int64) async throws -> ProductState? {
        try await sale(productId)?.product
    }

    /// The cached answer without suspending: nil when nothing fresh is cached, `.some(nil)` when
    /// the ledger has no such product.
    public func fresh(_ productId: Int64) -> Sale?? {
        let now = ContinuousClock.now
        return entries.withLock { Self.fresh(productId, in: $0, now: now) }
    }

    private static func fresh(_ productId: Int64, in entries: [Int64: Entry], now: ContinuousClock.Instant) -> Sale?? {
        guard case .loaded(let product, let expiresAt, let soldOutUntil)? = entries[productId], expiresAt > now else { return nil }
        return .some(product.map { Sale(product: $0, isSoldOut: soldOutUntil.map { $0 > now } ?? false) })
    }

    /// The product and its sold-out mark under one lock and one clock reading: the losing 99 %
    /// ask for both. Inlined, so a cached answer costs its caller no async frame (on the task
    /// allocator those were a twentieth of a sold-out answer's CPU); only a miss calls the part
    /// that may suspend.
    @inline(__always)
    public func sale(_ productId: Int64) async throws -> Sale? {
        if let cached = fresh(productId) { return cached }
        return try await loadOrJoin(productId)
    }

    private func loadOrJoin(_ productId: Int64) async throws -> Sale? {
        while true {
            switch decide(productId) {
            case .cached(let sale):
                return sale
            case .load:
                return try await loadAndShare(productId)
            case .wait:
                // nil: the load we meant to join failed and was cleared before we joined; look again.
                if let sale = try await join(productId) { return sale }
            }
        }
    }

    private enum Step { case cached(Sale?), wait, load }

    private func decide(_ productId: Int64) -> Step {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            if let sale = Self.fresh(productId, in: entries, now: now) { return .cached(sale) }
            switch entries[productId] {
            case .loading?: return .wait
            default:
                entries[productId] = .loading([])
                return .load
            }
        }
    }

    /// Waits for the load in flight; `.some(sale)` once it finished, nil if there is none now.
    private func join(_ productId: Int64) async throws -> Sale?? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Sale??, Error>) in
            let finished: Sale??? = entries.withLock { entries in
                switch entries[productId] {
                case .loading(var waiters)?:
                    waiters.append(continuation)
                    entries[productId] = .loading(waiters)
                    return nil
                case .loaded(let product, _, let soldOutUntil)?:
                    return .some(.some(product.map { Sale(product: $0, isSoldOut: soldOutUntil != nil) }))
                case nil: return .some(nil)
                }
            }
            if let finished { continuation.resume(returning: finished) }
        }
    }

    private func loadAndShare(_ productId: Int64) async throws -> Sale? {
        do {
            let product = try await load(productId)
            let expiresAt = ContinuousClock.now + ttl + .milliseconds(Int.random(in: 0...jitterMs))
            let soldOutUntil = product.map { $0.available <= 0 } == true ? expiresAt : nil
            let sale = product.map { Sale(product: $0, isSoldOut: soldOutUntil != nil) }
            for waiter in finish(productId, with: .loaded(product, expiresAt: expiresAt, soldOutUntil: soldOutUntil)) {
                waiter.resume(returning: .some(sale))
            }
            return sale
        } catch {
            for waiter in finish(productId, with: nil) { waiter.resume(throwing: error) }
            throw error
        }
    }

    /// Replaces the loading entry and hands back who was waiting for it.
    private func finish(_ productId: Int64, with entry: Entry?) -> [CheckedContinuation<Sale??, Error>] {
        entries.withLock { entries in
            defer { entries[productId] = entry }
            if case .loading(let waiters)? = entries[productId] { return waiters }
            return []
        }
    }

    /// Remembers that the gate or the ledger said sold out, for one TTL.
    public func markSoldOut(_ productId: Int64) {
        let until = ContinuousClock.now + ttl
        entries.withLock { entries in
            if case .loaded(let product, let expiresAt, _)? = entries[productId] {
                entries[productId] = .loaded(product, expiresAt: expiresAt, soldOutUntil: until)
            }
        }
    }

    /// Forgets a product (after this instance changed it), so the next read loads it.
    public func invalidate(_ productId: Int64) {
        entries.withLock { entries in
            if case .loaded? = entries[productId] { entries[productId] = nil }
        }
    }
}
