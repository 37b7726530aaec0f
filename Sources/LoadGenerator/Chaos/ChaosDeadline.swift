import Synchronization

/// When a chaos run's clients stop: the run's planned end, moved later while faults are still
/// being undone (a restarted node may take longer than planned), so that recovery after the
/// last fault is always seen.
public final class ChaosDeadline: Sendable {
    private let instant: Mutex<ContinuousClock.Instant>

    public init(_ instant: ContinuousClock.Instant) {
        self.instant = Mutex(instant)
    }

    public var hasPassed: Bool { ContinuousClock.now >= instant.withLock { $0 } }

    /// Moves the deadline to `later`, if that is later.
    public func extend(to later: ContinuousClock.Instant) {
        instant.withLock { $0 = max($0, later) }
    }
}
