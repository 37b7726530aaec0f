/// Overload detection by waiting time, after CoDel (Nichols & Jacobson, "Controlling Queue
/// Delay"): a queue whose oldest item has waited longer than the target at every take for a
/// whole interval, without ever being emptied, holds a standing backlog that will not drain by
/// itself, whatever its length. While that holds, work that already waited past the target is
/// shed (answered "overloaded, retry") instead of being served late. A burst that drains, or
/// one slow take (an fsync stall), never sheds. Pure state: the owner reports each take.
public struct SojournShedder: Sendable {
    public let target: Duration
    public let interval: Duration
    /// When waits above the target, seen since then at every take, make the queue overloaded.
    private var overloadedFrom: ContinuousClock.Instant?
    public private(set) var isOverloaded = false

    public init(targetMs: Int, intervalMs: Int) {
        precondition(targetMs > 0 && intervalMs > 0, "a positive target and interval")
        target = .milliseconds(targetMs)
        interval = .milliseconds(intervalMs)
    }

    /// Records a take at `now` whose oldest item had waited `wait`; `drained` when the take
    /// left the queue empty.
    public mutating func observe(wait: Duration, drained: Bool, at now: ContinuousClock.Instant) {
        guard wait > target, !drained else {
            overloadedFrom = nil
            isOverloaded = false
            return
        }
        guard let from = overloadedFrom else {
            overloadedFrom = now + interval
            return
        }
        if now >= from { isOverloaded = true }
    }

    /// Whether an item that waited `wait` should be shed rather than served.
    public func sheds(wait: Duration) -> Bool {
        isOverloaded && wait > target
    }
}
