import Synchronization

/// Whether the ledger still has units of a product the gate calls sold out.
///
/// The gate's copy of the stock follows the ledger through the relay and the projector, so it
/// lags: after a node dies its projector's partitions wait for the consumer group's session
/// timeout, and a stalled broker holds every update. Units that expiry, cancels or an admin
/// gave back meanwhile are in the ledger, not in the gate. Each node therefore reads the
/// ledger's figure of a product the gate refused, at most once per `maxAgeMs` (callers in
/// between share the last figure), and an attempt the ledger has units for is decided by the
/// ledger alone. A true sell-out costs one read per product per interval, not one per loser.
/// When the ledger cannot be read, the gate's answer cannot be vouched for either: the attempt
/// goes to the ledger, which answers for itself (503 while it is down).
final class LedgerStockCheck: Sendable {
    /// The product's available units in the ledger; nil when there is no such product.
    typealias Reader = @Sendable (Int64) async throws -> Int64?

    enum Answer: Equatable {
        case enough, notEnough
        /// The ledger could not be read.
        case unknown
    }

    private struct Figure {
        /// nil: the last read failed, or the first has not answered yet.
        var available: Int64?
        var readAt: ContinuousClock.Instant
        var isReading: Bool
    }

    private let figures = Mutex<[Int64: Figure]>([:])
    private let read: Reader
    private let maxAge: Duration
    private let maxProducts: Int

    init(maxAgeMs: Int, maxProducts: Int, read: @escaping Reader) {
        precondition(maxAgeMs > 0 && maxProducts > 0, "a positive age and table size")
        self.maxAge = .milliseconds(maxAgeMs)
        self.maxProducts = maxProducts
        self.read = read
    }

    /// Whether the ledger had at least `quantity` units of `productId` at its latest figure.
    func check(_ productId: Int64, _ quantity: Int64) async -> Answer {
        let now = ContinuousClock.now
        let known: Int64?? = figures.withLock { figures in
            if let figure = figures[productId], figure.isReading || now - figure.readAt < maxAge { return .some(figure.available) }
            if figures[productId] == nil && figures.count >= maxProducts {
                figures = figures.filter { now - $0.value.readAt < maxAge || $0.value.isReading }
                guard figures.count < maxProducts else { return .some(nil) }
            }
            // Until the read answers, callers get the previous figure; with none, they do not
            // know either (a node just started), and the ledger decides their attempts.
            figures[productId] = Figure(available: figures[productId]?.available, readAt: now, isReading: true)
            return nil
        }
        if let known { return Self.answer(known, quantity) }
        let available: Int64?
        do {
            available = try await read(productId) ?? 0
        } catch {
            available = nil
        }
        record(productId, available: available)
        return Self.answer(available, quantity)
    }

    private static func answer(_ available: Int64?, _ quantity: Int64) -> Answer {
        guard let available else { return .unknown }
        return available >= quantity ? .enough : .notEnough
    }

    /// The ledger itself said sold out: no units until the next read.
    func recordSoldOut(_ productId: Int64) {
        record(productId, available: 0)
    }

    private func record(_ productId: Int64, available: Int64?) {
        let now = ContinuousClock.now
        figures.withLock { figures in
            guard figures[productId] != nil || figures.count < maxProducts else { return }
            figures[productId] = Figure(available: available, readAt: now, isReading: false)
        }
    }
}
