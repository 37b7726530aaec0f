import Ledger
import Synchronization

/// The in-process product cache of the write path: sale config and window without a network
/// hop, and a local sold-out flag so the losing 99 % are answered without touching Redis.
///
/// Entries live `ttlMs` plus a random jitter (so a fleet does not reload in step); concurrent
/// misses of one product share a single load (single-flight). A sold-out mark lasts one TTL
/// (for a load: from its start, however long it took), so stock added elsewhere reopens the
/// sale within it. Only the ledger's word marks: a loader that fell back on a copy (the read
/// model while PostgreSQL is down) answers `isSoldOut == false`, since a copy's stock may lack
/// a restock or count the tentatives of attempts the ledger never took.
///
/// Any client may ask for any id, so the cache is bounded: at most `maxEntries` products, of
/// them at most `maxUnknownEntries` "no such product" answers. When full it sweeps expired
/// entries (at most once per TTL); what still does not fit is loaded and answered, not cached.
public final class ProductCatalog: Sendable {
    /// The product's sale (nil when the ledger has none); sold out only on the ledger's word.
    public typealias Loader = @Sendable (Int64) async throws -> Sale?

    private enum Entry {
        case loading([CheckedContinuation<Sale??, Error>])
        case loaded(ProductState?, expiresAt: ContinuousClock.Instant, soldOutUntil: ContinuousClock.Instant?)

        var isUnknown: Bool {
            if case .loaded(nil, _, _) = self { return true }
            return false
        }
    }

    /// The entries and how many of them are unknown products, kept together.
    private struct Table {
        var entries: [Int64: Entry] = [:]
        var unknownCount = 0
        var nextSweepAt = ContinuousClock.now

        subscript(productId: Int64) -> Entry? {
            get { entries[productId] }
            set {
                if entries[productId]?.isUnknown == true { unknownCount -= 1 }
                if newValue?.isUnknown == true { unknownCount += 1 }
                entries[productId] = newValue
            }
        }

        /// Drops expired entries (never loads in flight).
        mutating func sweep(now: ContinuousClock.Instant) {
            entries = entries.filter { _, entry in
                if case .loaded(_, let expiresAt, _) = entry { return expiresAt > now }
                return true
            }
            unknownCount = entries.values.count { $0.isUnknown }
        }
    }

    private let table = Mutex(Table())
    private let load: Loader
    private let ttl: Duration
    private let jitterMs: Int
    private let maxEntries: Int
    private let maxUnknownEntries: Int

    public init(ttlMs: Int, jitterMs: Int, maxEntries: Int, maxUnknownEntries: Int, load: @escaping Loader) {
        precondition(ttlMs > 0 && jitterMs >= 0, "a positive TTL")
        precondition(maxEntries > 0 && maxUnknownEntries >= 0 && maxUnknownEntries <= maxEntries, "bounds that fit")
        self.load = load
        self.ttl = .milliseconds(ttlMs)
        self.jitterMs = jitterMs
        self.maxEntries = maxEntries
        self.maxUnknownEntries = maxUnknownEntries
    }

    /// How many products (known or not) the cache holds now.
    public var count: Int {
        table.withLock { $0.entries.count }
    }

    /// Whether `entry` may be stored for a product not in the table, sweeping once per TTL
    /// when it is full.
    private func hasRoom(for entry: Entry, in table: inout Table, now: ContinuousClock.Instant) -> Bool {
        func fits() -> Bool {
            table.entries.count < maxEntries && (!entry.isUnknown || table.unknownCount < maxUnknownEntries)
        }
        if fits() { return true }
        guard now >= table.nextSweepAt else { return false }
        table.sweep(now: now)
        table.nextSweepAt = now + ttl
        return fits()
    }

    /// A product as the write path sees it: its state and whether a recent answer said sold out.
    public struct Sale: Sendable {
        public var product: ProductState
        public var isSoldOut: Bool

        public init(product: ProductState, isSoldOut: Bool) {
            self.product = product
            self.isSoldOut = isSoldOut
        }
    }

    /// The product (nil when the ledger has none), from the cache when fresh.
    public func product(_ productId: Int64) async throws -> ProductState? {
        try await sale(productId)?.product
    }

    /// The cached answer without suspending: nil when nothing fresh is cached, `.some(nil)` when
    /// the ledger has no such product.
    public func fresh(_ productId: Int64) -> Sale?? {
        let now = ContinuousClock.now
        return table.withLock { Self.fresh(productId, in: $0, now: now) }
    }

    private static func fresh(_ productId: Int64, in table: Table, now: ContinuousClock.Instant) -> Sale?? {
        guard case .loaded(let product, let expiresAt, let soldOutUntil)? = table[productId], expiresAt > now else { return nil }
        return .some(sale(product, soldOutUntil: soldOutUntil, now: now))
    }

    private static func sale(_ product: ProductState?, soldOutUntil: ContinuousClock.Instant?, now: ContinuousClock.Instant) -> Sale? {
        product.map { Sale(product: $0, isSoldOut: soldOutUntil.map { $0 > now } ?? false) }
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
            case .loadUncached:
                return try await load(productId)
            case .wait:
                // nil: the load we meant to join failed and was cleared before we joined; look again.
                if let sale = try await join(productId) { return sale }
            }
        }
    }

    /// `loadUncached`: the table is full, so this load is neither shared nor kept.
    private enum Step { case cached(Sale?), wait, load, loadUncached }

    private func decide(_ productId: Int64) -> Step {
        let now = ContinuousClock.now
        return table.withLock { table in
            if let sale = Self.fresh(productId, in: table, now: now) { return .cached(sale) }
            switch table[productId] {
            case .loading?: return .wait
            case .loaded?:
                table[productId] = .loading([])
                return .load
            case nil:
                guard hasRoom(for: .loading([]), in: &table, now: now) else { return .loadUncached }
                table[productId] = .loading([])
                return .load
            }
        }
    }

    /// Waits for the load in flight; `.some(sale)` once it finished, nil if there is none now.
    private func join(_ productId: Int64) async throws -> Sale?? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Sale??, Error>) in
            let finished: Sale??? = table.withLock { table in
                switch table[productId] {
                case .loading(var waiters)?:
                    waiters.append(continuation)
                    table[productId] = .loading(waiters)
                    return nil
                case .loaded(let product, _, let soldOutUntil)?:
                    return .some(.some(Self.sale(product, soldOutUntil: soldOutUntil, now: .now)))
                case nil: return .some(nil)
                }
            }
            if let finished { continuation.resume(returning: finished) }
        }
    }

    private func loadAndShare(_ productId: Int64) async throws -> Sale? {
        let startedAt = ContinuousClock.now
        do {
            let sale = try await load(productId)
            let expiresAt = ContinuousClock.now + ttl + .milliseconds(Int.random(in: 0...jitterMs))
            let soldOutUntil = sale?.isSoldOut == true ? startedAt + ttl : nil
            for waiter in finish(productId, with: .loaded(sale?.product, expiresAt: expiresAt, soldOutUntil: soldOutUntil)) {
                waiter.resume(returning: .some(sale))
            }
            return sale
        } catch {
            for waiter in finish(productId, with: nil) { waiter.resume(throwing: error) }
            throw error
        }
    }

    /// Replaces the loading entry and hands back who was waiting for it. An unknown product
    /// beyond `maxUnknownEntries` is answered to its waiters but not kept.
    private func finish(_ productId: Int64, with entry: Entry?) -> [CheckedContinuation<Sale??, Error>] {
        let now = ContinuousClock.now
        return table.withLock { table in
            var waiters = [CheckedContinuation<Sale??, Error>]()
            if case .loading(let loadWaiters)? = table[productId] { waiters = loadWaiters }
            table[productId] = nil
            if let entry, hasRoom(for: entry, in: &table, now: now) { table[productId] = entry }
            return waiters
        }
    }

    /// Remembers that the gate or the ledger said sold out, for one TTL.
    public func markSoldOut(_ productId: Int64) {
        let until = ContinuousClock.now + ttl
        table.withLock { table in
            if case .loaded(let product, let expiresAt, _)? = table[productId] {
                table[productId] = .loaded(product, expiresAt: expiresAt, soldOutUntil: until)
            }
        }
    }

    /// Forgets a product (after this instance changed it), so the next read loads it.
    public func invalidate(_ productId: Int64) {
        table.withLock { table in
            if case .loaded? = table[productId] { table[productId] = nil }
        }
    }
}
