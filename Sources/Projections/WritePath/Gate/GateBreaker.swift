import Ledger
import Logging
import Metrics
import Synchronization

/// The circuit breaker around the Redis gate, shared by every request of a node: while it is
/// open, reservations go to the ledger alone, whose guard tables decide them, and product reads
/// skip Redis (docs/architecture.md, degraded modes). Callers record failures; `ReadModelWatch`
/// probes and holds it open while the read model is rebuilt. Logs each change once and exports it.
public final class GateBreaker: Sendable {
    private let breaker: Mutex<CircuitBreaker>
    private let logger: Logger
    private let metrics: GateBreakerMetrics

    public init(limits: Limits, logger: Logger = Logger(label: "ledger.gate"), metrics: MetricsFactory = MetricsSystem.factory) {
        breaker = Mutex(CircuitBreaker(
            failureThreshold: limits.gateBreakerFailureThreshold, window: .milliseconds(limits.gateBreakerWindowMs),
            openDuration: .milliseconds(limits.gateBreakerOpenMs)))
        self.logger = logger
        self.metrics = GateBreakerMetrics(factory: metrics)
        self.metrics.state.record(0)
    }

    /// Whether a reservation attempt may use the gate now; false counts one attempt without it.
    public func admitsCall() -> Bool {
        guard breaker.withLock({ $0.isClosed }) else {
            metrics.bypassed.increment()
            return false
        }
        return true
    }

    public var isClosed: Bool { breaker.withLock { $0.isClosed } }

    /// Failures within the window that open the breaker.
    public var failureThreshold: Int { breaker.withLock { $0.failureThreshold } }

    /// `closed`, `open` or `rebuilding` (held open while the read model is rebuilt).
    public var stateName: String {
        switch breaker.withLock({ $0.state }) {
        case .closed: "closed"
        case .open: "open"
        case .heldOpen: "rebuilding"
        }
    }

    public func recordFailure(_ error: Error) {
        let now = ContinuousClock.now
        if breaker.withLock({ $0.recordFailure(at: now) }) {
            opened("gate calls fail; reservations go to the ledger alone", error: error)
        }
    }

    func wantsProbe() -> Bool {
        let now = ContinuousClock.now
        return breaker.withLock { $0.wantsProbe(at: now) }
    }

    func probeSucceeded() {
        let closed = breaker.withLock { breaker in
            guard case .open = breaker.state else { return false }
            breaker.probeSucceeded()
            return true
        }
        if closed { self.closed("Redis answers with the read model; reservations use the gate again") }
    }

    func probeFailed() {
        let now = ContinuousClock.now
        breaker.withLock { $0.probeFailed(at: now) }
    }

    func holdOpen(reason: String) {
        let wasHeld = breaker.withLock { breaker in
            let wasHeld = breaker.state == .heldOpen
            breaker.holdOpen()
            return wasHeld
        }
        metrics.state.record(2)
        if !wasHeld { logger.warning("gate breaker held open: \(reason)") }
    }

    func release(reason: String) {
        let released = breaker.withLock { breaker in
            let wasHeld = breaker.state == .heldOpen
            breaker.release()
            return wasHeld
        }
        if released { closed(reason) }
    }

    private func opened(_ reason: String, error: Error) {
        metrics.state.record(1)
        metrics.opened.increment()
        logger.warning("gate breaker opened: \(reason)", metadata: ["error": "\(error)"])
    }

    private func closed(_ reason: String) {
        metrics.state.record(0)
        logger.notice("gate breaker closed: \(reason)")
    }
}
