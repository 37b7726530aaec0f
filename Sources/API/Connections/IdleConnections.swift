import Metrics
import NIOCore
import Synchronization

/// The HTTP connections waiting for a request. When the connection cap is reached the oldest
/// of them are closed to make room (as nginx drains its reusable connections), so sockets that
/// never send, or stopped sending, cannot keep buyers and health checks out until the idle
/// timeout closes them.
final class IdleConnections: Sendable {
    /// An idle connection: when it went idle (a sequence number, so the oldest sorts first) and
    /// how to close it on its own event loop.
    struct Entry: Sendable {
        let since: UInt64
        let handler: NIOLoopBound<IdleConnectionHandler>
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var sequence: UInt64 = 0
    }

    private let state = Mutex(State())
    private let closed = Counter(label: "http_idle_connections_closed_at_cap_total")

    var count: Int { state.withLock { $0.entries.count } }

    func becameIdle(_ handler: IdleConnectionHandler, on eventLoop: any EventLoop) {
        let bound = NIOLoopBound(handler, eventLoop: eventLoop)
        state.withLock { state in
            state.sequence += 1
            state.entries[ObjectIdentifier(handler)] = Entry(since: state.sequence, handler: bound)
        }
    }

    func becameBusy(_ handler: IdleConnectionHandler) {
        _ = state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(handler)) }
    }

    /// Closes up to `count` of the longest idle connections; one that received a request since
    /// it was picked stays open.
    func closeOldest(_ count: Int) {
        let picked = state.withLock { state in
            let oldest = Self.oldest(state.entries.map { ($0.key, $0.value.since) }, count: count)
            return oldest.compactMap { state.entries.removeValue(forKey: $0) }
        }
        guard !picked.isEmpty else { return }
        closed.increment(by: Int64(picked.count))
        for entry in picked {
            let handler = entry.handler
            handler.eventLoop.execute { handler.value.closeIfIdle() }
        }
    }

    /// The keys of the `count` entries idle the longest (smallest `since`), oldest first.
    static func oldest<Key>(_ entries: [(key: Key, since: UInt64)], count: Int) -> [Key] {
        entries.sorted { $0.since < $1.since }.prefix(count).map(\.key)
    }
}
