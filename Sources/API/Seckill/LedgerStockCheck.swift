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
/// reading from before the freeze. A shared reading confirms a sold-out, but sends one to the
/// ledger only if its read began after the refusal (else a new read decides). A true sell-out
/// on a current copy costs one read per interval, and the gate's answers stand. A user's
/// holdings are read for each limit refusal, as often as the user's write budget allows.
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
        /// Units the copy holds for attempts in flight: its tentatives, read no later than
        /// `available`, less those the ledger has recorded by then (nil: unknown).
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
        /// Units the copy holds for the user's attempts in flight, less those of them the ledger
        /// has recorded (nil: unknown).
        var tentativeUnits: Int64?

        /// Whether `quantity` more fit under `limitPerUser`. The ledger is read after the copy,
        /// in one statement: an attempt that committed in between counts once, as held.
        func leavesRoom(for quantity: Int64, limitPerUser: Int64) -> Bool {
            tentativeUnits.map { heldUnits + $0 + quantity <= limitPerUser } ?? false
        }
    }

    /// The product's reading; nil when there is no such product.
    typealias Reader = @Sendable (Int64) async throws -> Reading?
    /// A user's reading: product id, then user id.
    typealias UserReader = @Sendable (Int64, Int64) async throws -> UserReading

    /// One read's outcome. `reading` nil with `failed`: the read failed; nil without: there is
    /// no such product.
    private struct Look: Sendable {
        var reading: Reading?
        var failed: Bool
        var startedAt: ContinuousClock.Instant
        var finishedAt: ContinuousClock.Instant
    }

    private enum Entry {
        case read(Look)
        case reading(previous: Look?, waiters: [CheckedContinuation<Look, Never>])
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
    /// sold-out, the ledger has the units; or the ledger could not be read. A shared reading
    /// that predates a sold-out may say "refuse", not "the ledger has units": in a burst the
    /// units it saw were taken a moment later, and every loser would reach the ledger. So
    /// units for the ledger to sell rest on a read begun after the refusal.
    func ledgerDecides(_ productId: Int64, needing quantity: Int64?) async -> Bool {
        let refusedBy = ContinuousClock.now
        let look = await current(productId, startedAfter: nil)
        let decides = Self.ledgerDecides(look, needing: quantity)
        guard decides, quantity != nil, !look.failed, look.startedAt < refusedBy else { return decides }
        return Self.ledgerDecides(await current(productId, startedAfter: refusedBy), needing: quantity)
    }

    private static func ledgerDecides(_ look: Look, needing quantity: Int64?) -> Bool {
        if look.failed { return true }
        guard let reading = look.reading else { return false }
        guard reading.gateIsBehind else { return quantity.map(reading.ledgerHasUnitsBeyondTentatives) ?? false }
        return reading.available >= (quantity ?? 0)
    }

    /// The ledger itself said sold out: no units until the next read. The reading keeps its
    /// time: sold-outs arriving one after another must not keep a reading taken before a
    /// freeze alive, or the copy's lag it missed would never be seen.
    func recordSoldOut(_ productId: Int64) {
        entries.withLock { entries in
            if case .read(var look)? = entries[productId], look.reading != nil {
                look.reading?.available = 0
                entries[productId] = .read(look)
            }
        }
    }

    private enum Step {
        case known(Look)
        case wait
        case read(startedAt: ContinuousClock.Instant)
    }

    /// The product's look: a fresh one shared, or a new read (one at a time per product). With
    /// `startedAfter`, only a read begun after that instant will do.
    private func current(_ productId: Int64, startedAfter: ContinuousClock.Instant?) async -> Look {
        while true {
            let look = await currentOrPrevious(productId, startedAfter: startedAfter)
            // A read in flight when the caller came began too early: wait for the next one.
            if let startedAfter, look.startedAt < startedAfter { continue }
            return look
        }
    }

    private func currentOrPrevious(_ productId: Int64, startedAfter: ContinuousClock.Instant?) async -> Look {
        let now = ContinuousClock.now
        let step: Step = entries.withLock { entries in
            switch entries[productId] {
            case .read(let look)? where now - look.finishedAt < maxAge && startedAfter.map({ look.startedAt >= $0 }) ?? true:
                return .known(look)
            case .read(let look)?:
                entries[productId] = .reading(previous: look, waiters: [])
                return .read(startedAt: now)
            case .reading(let previous?, _)? where startedAfter == nil && now - previous.finishedAt < maxAge * 2:
                return .known(previous)
            case .reading?:
                return .wait
            case nil:
                if entries.count >= maxProducts {
                    entries = entries.filter { _, entry in
                        if case .read(let look) = entry { return now - look.finishedAt < maxAge }
                        return true
                    }
                }
                // Too many products at once: let the ledger decide rather than grow.
                guard entries.count < maxProducts else { return .known(Look(reading: nil, failed: true, startedAt: now, finishedAt: now)) }
                entries[productId] = .reading(previous: nil, waiters: [])
                return .read(startedAt: now)
            }
        }
        switch step {
        case .known(let look):
            return look
        case .wait:
            return await withCheckedContinuation { continuation in
                let finished: Look? = entries.withLock { entries in
                    guard case .reading(let previous, var waiters)? = entries[productId] else {
                        if case .read(let look)? = entries[productId] { return look }
                        return Look(reading: nil, failed: true, startedAt: now, finishedAt: now)
                    }
                    waiters.append(continuation)
                    entries[productId] = .reading(previous: previous, waiters: waiters)
                    return nil
                }
                if let finished { continuation.resume(returning: finished) }
            }
        case .read(let startedAt):
            let reading: Reading?, failed: Bool
            do {
                (reading, failed) = (try await read(productId), false)
            } catch {
                (reading, failed) = (nil, true)
            }
            let look = Look(reading: reading, failed: failed, startedAt: startedAt, finishedAt: .now)
            let waiters: [CheckedContinuation<Look, Never>] = entries.withLock { entries in
                var waiters = [CheckedContinuation<Look, Never>]()
                if case .reading(_, let waiting)? = entries[productId] { waiters = waiting }
                entries[productId] = .read(look)
                return waiters
            }
            for waiter in waiters { waiter.resume(returning: look) }
            return look
        }
    }
}
