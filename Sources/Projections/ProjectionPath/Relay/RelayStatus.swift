import Ledger

/// A relay as the ledger sees it: its checkpoint, the epoch of its last take-over, and the
/// session that leads it now, for `ledger status`.
public struct RelayStatus: Sendable, Equatable {
    public let name: String
    public let topic: String
    public let epoch: Int64
    public let position: Int64
    /// The leading session's client address and backend pid; nil while no relay holds the lock.
    public let leader: String?

    public static func read(on connection: PostgresConnection) async throws -> [RelayStatus] {
        let rows = try await connection.query(
            """
            SELECT c.relay, c.topic, c.epoch, c.position,
                (SELECT coalesce(host(a.client_addr), 'local') || ':' || coalesce(a.client_port, 0) || ' (backend ' || a.pid || ')'
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE \(RelayLeadership.isLock("l", relay: "c.relay")) LIMIT 1) AS leader
            FROM relay_checkpoints c ORDER BY c.relay
            """)
        return try rows.map { row in
            RelayStatus(
                name: try row["relay"].string(), topic: try row["topic"].string(), epoch: try row["epoch"].int64(),
                position: try row["position"].int64(), leader: try row["leader"].optional { try $0.string() })
        }
    }
}
