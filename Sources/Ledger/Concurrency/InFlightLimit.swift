/// A cap on work in flight that follows what the box clears (additive increase, multiplicative
/// decrease, on waiting time). By Little's law admitted work waits `inFlight / throughput`; a
/// fixed cap sized for the box at its best lets that wait grow when the same box clears less
/// (an overload's refusals and clients take cores too). Once per window: when even the fastest
/// answer of the window took longer than the target, a standing backlog holds the cap too high
/// and it shrinks by a quarter; otherwise it grows by a sixteenth of the ceiling. A window
/// without answers changes nothing. Pure state: the owner reports each answer.
public struct InFlightLimit: Sendable {
    public let floor: Int
    public let ceiling: Int
    public let target: Duration
    public let window: Duration
    public private(set) var value: Int
    private var windowEnd: ContinuousClock.Instant?
    private var fastest: Duration?

    public init(floor: Int, ceiling: Int, targetMs: Int, windowMs: Int) {
        precondition(0 < floor && floor <= ceiling, "0 < floor <= ceiling")
        precondition(targetMs > 0 && windowMs > 0, "a positive target and window")
        self.floor = floor
        self.ceiling = ceiling
        self.target = .milliseconds(targetMs)
        self.window = .milliseconds(windowMs)
        self.value = ceiling
    }

    /// Records an answer that took `latency` from admission, at `now`.
    public mutating func observe(latency: Duration, at now: ContinuousClock.Instant) {
        fastest = min(fastest ?? latency, latency)
        guard let end = windowEnd else {
            windowEnd = now + window
            return
        }
        guard now >= end, let fastest else { return }
        if fastest > target {
            value = max(floor, value * 3 / 4)
        } else {
            value = min(ceiling, value + max(1, ceiling / 16))
        }
        self.fastest = nil
        windowEnd = now + window
    }
}
