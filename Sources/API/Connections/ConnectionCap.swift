import HummingbirdCore

/// At most `maxConnections` HTTP connections open; past it new ones wait in the kernel's
/// backlog. Reaching the cap closes the longest idle connections, `closedAtCap` at a time, so
/// the wait lasts while the open ones are busy, not while they idle.
struct ConnectionCap: AvailableConnectionsDelegate {
    let maxConnections: Int
    let closedAtCap: Int
    let idle: IdleConnections
    private var open = 0

    init(maxConnections: Int, closedAtCap: Int, idle: IdleConnections) {
        precondition(maxConnections > 0 && closedAtCap > 0)
        self.maxConnections = maxConnections
        self.closedAtCap = closedAtCap
        self.idle = idle
    }

    mutating func connectionOpened() {
        open += 1
        if open >= maxConnections { idle.closeOldest(closedAtCap) }
    }

    mutating func connectionClosed() {
        open -= 1
    }

    func isAcceptingNewConnections() -> Bool {
        open < maxConnections
    }
}
