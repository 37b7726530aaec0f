import HummingbirdCore
import Logging

/// Hummingbird's cap on open HTTP connections (past it new ones wait in the kernel's backlog),
/// plus: reaching it closes the longest idle connections, `closedAtCap` at a time, so the wait
/// lasts while the open ones are busy, not while they idle.
struct ConnectionCap: AvailableConnectionsDelegate {
    private var cap: MaximumAvailableConnections
    private let closedAtCap: Int
    private let idle: IdleConnections

    init(maxConnections: Int, closedAtCap: Int, idle: IdleConnections, logger: Logger) {
        precondition(maxConnections > 0 && closedAtCap > 0)
        self.cap = MaximumAvailableConnections(maxConnections, logger: logger)
        self.closedAtCap = closedAtCap
        self.idle = idle
    }

    mutating func connectionOpened() {
        cap.connectionOpened()
        if !cap.isAcceptingNewConnections() { idle.closeOldest(closedAtCap) }
    }

    mutating func connectionClosed() {
        cap.connectionClosed()
    }

    func isAcceptingNewConnections() -> Bool {
        cap.isAcceptingNewConnections()
    }
}
