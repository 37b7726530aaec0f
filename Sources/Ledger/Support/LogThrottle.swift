import Logging
import Synchronization

/// Logs a repeated warning at most once per interval per message, with how many repeats were
/// left out since: during an outage every request and every batch fails the same way, and a
/// line each would bury the few that matter (thousands a second).
public final class LogThrottle: Sendable {
    private struct Entry {
        var loggedAt: ContinuousClock.Instant
        var suppressed: Int
    }

    private let interval: Duration
    private let entries = Mutex<[String: Entry]>([:])

    public init(intervalMs: Int) {
        precondition(intervalMs > 0, "a positive interval")
        interval = .milliseconds(intervalMs)
    }

    /// How many repeats of `message` were left out before this one, or nil to leave this one
    /// out too. Messages are few and fixed (no interpolated values), so the table stays small.
    public func admit(_ message: String, at now: ContinuousClock.Instant) -> Int? {
        entries.withLock { entries in
            if var entry = entries[message], now - entry.loggedAt < interval {
                entry.suppressed += 1
                entries[message] = entry
                return nil
            }
            let suppressed = entries[message]?.suppressed ?? 0
            entries[message] = Entry(loggedAt: now, suppressed: 0)
            return suppressed
        }
    }

    public func warning(_ logger: Logger, _ message: Logger.Message, metadata: Logger.Metadata = [:]) {
        guard let suppressed = admit(message.description, at: .now) else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["repeatsLeftOut"] = "\(suppressed)" }
        logger.warning(message, metadata: metadata)
    }
}
