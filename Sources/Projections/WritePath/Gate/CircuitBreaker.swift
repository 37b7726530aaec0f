/// The gate's circuit breaker as a pure state machine (the clock is passed in), so every
/// transition is tested without Redis. `GateBreaker` holds one behind a lock.
///
/// * **closed**: calls go through; `failureThreshold` failures within `window` open it.
/// * **open**: calls are refused (the caller goes on without Redis). After `openDuration` it
///   may be probed (half-open): a probe's success closes it, its failure keeps it open for
///   another `openDuration`. The probe is not a caller's call but a check of the read model
///   (`ReadModelWatch`), so the breaker never closes on a Redis that lost the model.
/// * **held open**: the read model is missing and being rebuilt; no call goes through, and no
///   probe is asked for, until it is released.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        case heldOpen
    }

    public let failureThreshold: Int
    public let window: Duration
    public let openDuration: Duration

    public private(set) var state = State.closed
    /// Failures since `windowStart` while closed.
    private var failures = 0
    private var windowStart: ContinuousClock.Instant?

    public init(failureThreshold: Int, window: Duration, openDuration: Duration) {
        precondition(failureThreshold > 0 && window > .zero && openDuration > .zero, "a breaker needs positive thresholds")
        self.failureThreshold = failureThreshold
        self.window = window
        self.openDuration = openDuration
    }

    public var isClosed: Bool { state == .closed }

    /// A call failed or timed out. True when this failure opened the breaker.
    @discardableResult
    public mutating func recordFailure(at now: ContinuousClock.Instant) -> Bool {
        guard state == .closed else { return false }  // a call admitted before it opened
        if let start = windowStart, now - start < window {
            failures += 1
        } else {
            windowStart = now
            failures = 1
        }
        guard failures >= failureThreshold else { return false }
        state = .open(until: now + openDuration)
        return true
    }

    /// Whether it is time to probe: open (not held) for at least `openDuration`.
    public func wantsProbe(at now: ContinuousClock.Instant) -> Bool {
        if case .open(let until) = state { return now >= until }
        return false
    }

    /// The probe found Redis answering with its read model: close.
    public mutating func probeSucceeded() {
        guard case .open = state else { return }
        close()
    }

    /// The probe failed: stay open for another `openDuration`.
    public mutating func probeFailed(at now: ContinuousClock.Instant) {
        guard case .open = state else { return }
        state = .open(until: now + openDuration)
    }

    /// Refuses every call until `release`, whatever happens meanwhile.
    public mutating func holdOpen() {
        state = .heldOpen
    }

    /// Ends a hold and closes: whoever held it open has just rebuilt the model in Redis.
    public mutating func release() {
        guard state == .heldOpen else { return }
        close()
    }

    private mutating func close() {
        state = .closed
        failures = 0
        windowStart = nil
    }
}
