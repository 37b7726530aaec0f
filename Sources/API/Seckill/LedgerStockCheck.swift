import Synchronization

/// Whether the ledger, not the gate, should decide an attempt the gate refused.
///
/// The gate's copy of stock and holdings follows the ledger through the relay and the projector,
/// so it lags. Normally by milliseconds, which the gate's own tentatives already account for; but
/// after a node dies its projector's partitions wait for the consumer group's session timeout,
/// and a stalled broker holds every update, while expiry, cancels or an admin give units back in
/// the ledger. So each node reads, for a product the gate refused, the ledger's available units
/// and its latest event recorded at least `settleMs` ago, and the gate's applied position: a copy
/// that has not applied that event, or that still holds the tentative of an attempt that is gone,
/// is behind. A sold-out is also the ledger's to decide when the ledger has the units beyond
/// all the copy holds for attempts in flight, and a limit refusal when the units the user holds
/// in the ledger and in the user's attempts in flight leave room (a user's lag: an expiry or a
/// cancel the copy has not applied, within the settle time).
///
/// At most one read per product per `maxAgeMs`; callers in between share it. While a read is on
/// its way, callers get the previous reading if it is less than two intervals old, and otherwise
/// wait for the read: a read stuck on a frozen Redis or PostgreSQL must not keep serving a
/// reading from before the freeze. A true sell-out on a current copy costs one read per
/// interval, and the gate's answers stand. A user's holdings are read for each limit refusal, as
/// often as the user's write budget allows.
final class LedgerStockCheck: Sendable {
    /// What one look at the ledger and the gate's copy found.
    struct Reading: Sendable, Equatable {
        /// Units the ledger has left.
        var available: Int64
        /// The product's latest ledger position recorded at least `settleMs` ago (0: none).
        var settledPosition: Int64
        /// The last ledger position the gate's copy applied (0: none).
        var appliedPosition: Int64
        /// The copy holds a tentative older than `gateLostTentativeMs`: its attempt died or failed
        /// with the ledger unreachable, and its units stay taken until the reconciler frees them.
        var holdsUnsettledTentatives = false
        /// Units the copy holds for attempts in flight, read no later than `available` (nil:
        /// unknown).
        var tentativeUnits: Int64? = nil

        var gateIsBehind: Bool { appliedPosition < settledPosition || holdsUnsettledTentatives }

        /// Whether the ledger has `quantity` units beyond all that every attempt in flight could
        /// take: then a sold-out is wrong however current the copy looks (units given back in
        /// the ledger within the settle time, say while a rebalance holds the projector).
        func ledgerHasUnitsBeyondTentatives(_ quantity: Int64) -> Bool {
            tentativeUnits.map { available - $0 >= quantity } ?? false
        }
    }

    /// What one look at a user's holdings of a product found.
    struct UserReading: Sendable, Equatable {
        /// Units the ledger counts against the user's limit, read no earlier than `tentativeUnits`.
        var heldUnits: Int64
        /// Units the copy holds for the user's attempts in flight (nil: unknown).
        var tentativeUnits: Int64?

        /// Whether `quantity` more fit under `limitPerUser`. An attempt that committed between
        /// the two reads counts twice, so the refusal stands; it never counts not at all.
        func leavesRoom(for quantity: Int64, limitPerUser: Int64) -> Bool {
            tentativeUnits.map { heldUnits + $0 + quantity <= limitPerUser } ?? false
        }
    }

    /// The product's reading; nil when there is no such product.
    typealias Reader = @Sendable (Int64) async throws -> Reading?
    /// A user's reading: product id, then user id.
    typealias UserReader = @Sendable (Int64, Int64) async throws -> UserReading

    private enum Entry {
        /// nil with `failed`: the read failed; nil without: there is no such product.
        case read(Reading?, failed: Bool, at: ContinuousClock.Instant)
        case reading(previous: (Reading?, failed: Bool, at: ContinuousClock.Instant)?, waiters: [CheckedContinuation<(Reading?, failed: Bool), Never>])
    }

    private let entries = Mutex<[Int64: Entry]>([:])
    private let read: Reader
    private let readUser: UserReader
    private let maxAge: Duration
    private let maxProducts: Int

    init(maxAgeMs: Int, maxProducts: Int, read: @escaping Reader, readUser: @escaping UserReader) {
        precondition(maxAgeMs > 0 && maxProducts > 0, "a positive age and table size")
        self.maxAge = .milliseconds(maxAgeMs)
        self.maxProducts = maxProducts
        self.read = read
        self.readUser = readUser
    }

    /// Whether the ledger should decide an attempt of `userId` for `quantity` units that the
    /// gate refused for the per-user limit: the copy is behind, or the user's holdings leave
    /// room, or the ledger could not be read.
    func ledgerDecidesLimit(_ productId: Int64, userId: Int64, quantity: Int64, limitPerUser: Int64) async -> Bool {
        if await ledgerDecides(productId, needing: nil) { return true }
        guard let reading = try? await readUser(productId, userId) else { return true }
        return reading.leavesRoom(for: quantity, limitPerUser: limitPerUser)
    }

    /// Whether the ledger should decide an attempt for `quantity` units (nil: a limit refusal,
    /// where any lag matters) that the gate refused: the gate's copy is behind and, for a
    /// sold-out, the ledger has the units; or the ledger could not be read.
    func ledgerDecides(_ productId: Int64, needing quantity: Int64?) async -> Bool {
        let (reading, failed) = await current(productId)
        if failed { return true }
        guard let reading else { return false }
        guard reading.gateIsBehind else { return quantity.map(reading.ledgerHasUnitsBeyondTentatives) ?? false }
        return reading.available >= (quantity ?? 0)
    }

    /// The ledger itself said sold out: no units until the next read. The reading keeps its
    /// time: sold-outs arriving one after another must not keep a reading taken before a
    /// freeze alive, or the copy's lag it missed would never be seen.
    func recordSoldOut(_ productId: Int64) {
        entries.withLock { entries in
            if case .read(var reading?, let failed, let at)? = entries[productId] {
                reading.available = 0
                entries[productId] = .read(reading, failed: failed, at: at)
            }
        }
    }

    private enum Step {
        case known((Reading?, failed: Bool))
        case wait
        case read
    }

    private func current(_ productId: Int64) async -> (Reading?, failed: Bool) {
        let now = ContinuousClock.now
        let step: Step = entries.withLock { entries in
            switch entries[productId] {
            case .read(let reading, let failed, let at)? where now - at < maxAge:
                return .known((reading, failed))
            case .read(let reading, let failed, let at)?:
                entries[productId] = .reading(previous: (reading, failed, at), waiters: [])
                return .read
            case .reading(let previous?, _)? where now - previous.at < maxAge * 2:
                return .known((previous.0, previous.failed))
            case .reading?:
                return .wait
            case nil:
                if entries.count >= maxProducts {
                    entries = entries.filter { _, entry in
                        if case .read(_, _, let at) = entry { return now - at < maxAge }
                        return true
                    }
                }
                // Too many products at once: let the ledger decide rather than grow.
                guard entries.count < maxProducts else { return .known((nil, failed: true)) }
                entries[productId] = .reading(previous: nil, waiters: [])
                return .read
            }
        }
        switch step {
        case .known(let known):
            return known
        case .wait:
            return await withCheckedContinuation { continuation in
                let finished: (Reading?, failed: Bool)? = entries.withLock { entries in
                    guard case .reading(let previous, var waiters)? = entries[productId] else {
                        if case .read(let reading, let failed, _)? = entries[productId] { return (reading, failed) }
                        return (nil, failed: true)
                    }
                    waiters.append(continuation)
                    entries[productId] = .reading(previous: previous, waiters: waiters)
                    return nil
                }
                if let finished { continuation.resume(returning: finished) }
            }
        case .read:
            let result: (Reading?, failed: Bool)
            do {
                result = (try await read(productId), failed: false)
            } catch {
                result = (nil, failed: true)
            }
            let waiters: [CheckedContinuation<(Reading?, failed: Bool), Never>] = entries.withLock { entries in
                var waiters = [CheckedContinuation<(Reading?, failed: Bool), Never>]()
                if case .reading(_, let waiting)? = entries[productId] { waiters = waiting }
                entries[productId] = .read(result.0, failed: result.failed, at: ContinuousClock.now)
                return waiters
            }
            for waiter in waiters { waiter.resume(returning: result) }
            return result
        }
    }
}
