import Ledger
import Logging
import Synchronization

/// Which relay publishes when every node runs one: the holder of a session-level advisory lock
/// taken on the relay's own `database` connection, so that it ends with that session (process
/// killed, host gone past the keepalives, connection lost). Each take-over bumps
/// `relay_checkpoints.epoch`, and the relay's checkpoint writes name the epoch they lead with:
/// a former leader that paused past the end of its lock can publish a few events again (the
/// consumers skip positions they applied) but can no longer move the checkpoint.
final class RelayLeadership: Sendable {
    private struct State {
        var epoch: Int64?
        var checkedAt: ContinuousClock.Instant?
        var announcedStandby = false
    }

    private let name: String
    private let topic: String
    private let database: PostgresConnection
    private let limits: Limits
    private let logger: Logger
    private let metrics: RelayMetrics
    private let state = Mutex(State())

    init(name: String, topic: String, database: PostgresConnection, limits: Limits, logger: Logger, metrics: RelayMetrics) {
        self.name = name
        self.topic = topic
        self.database = database
        self.limits = limits
        self.logger = logger
        self.metrics = metrics
    }

    /// The epoch this relay leads with, taking the lock if it is free; nil while another session
    /// holds it. A leader checks at most once per `relayLeadershipPollMs` that its session (which
    /// may have reconnected since) still holds the lock and the epoch is still its own.
    func epoch() async throws -> Int64? {
        let (held, checkedAt) = state.withLock { ($0.epoch, $0.checkedAt) }
        if let held {
            if let checkedAt, ContinuousClock.now - checkedAt < .milliseconds(limits.relayLeadershipPollMs) { return held }
            if try await stillLeads(epoch: held) {
                state.withLock { $0.checkedAt = .now }
                return held
            }
            lost(epoch: held, reason: "this session no longer holds the relay lock or a newer epoch took over")
        }
        return try await acquire()
    }

    /// Throws `fenced` (and stands by) when a checkpoint statement run with `epoch` matched no
    /// row: the epoch is no longer this relay's (the row exists once any relay led).
    func expectEpoch(_ rows: PostgresRows, _ epoch: Int64) throws {
        guard rows.isEmpty else { return }
        lost(epoch: epoch, reason: "a checkpoint statement found a newer epoch")
        throw RelayError(code: .fenced, message: "relay \(name)'s checkpoint has moved past epoch \(epoch): another relay took over")
    }

    /// Forgets the leadership: a newer epoch took over.
    private func lost(epoch: Int64, reason: String) {
        let forgot = state.withLock { current -> Bool in
            guard current.epoch == epoch else { return false }
            current = State()
            return true
        }
        guard forgot else { return }
        metrics.leader.record(0)
        logger.warning("relay: lost the leadership; standing by", metadata: ["epoch": "\(epoch)", "reason": "\(reason)"])
    }

    /// Releases the lock on a graceful stop, so that a standby takes over without waiting for
    /// this session to end.
    func resign() async {
        guard let epoch = state.withLock({ current -> Int64? in defer { current = State() }; return current.epoch }) else { return }
        _ = try? await database.query("SELECT pg_advisory_unlock(\(Self.lockKey))", [.text(name)])
        metrics.leader.record(0)
        logger.notice("relay: resigned the leadership", metadata: ["epoch": "\(epoch)"])
    }

    /// The advisory lock's key, from the relay's name (databases keep their own locks apart).
    private static let lockKey = lockKey(relay: "$1")

    /// SQL for the lock key of the relay named by `relay` (a parameter or a column).
    static func lockKey(relay: String) -> String { "hashtextextended('ledger relay ' || \(relay), 0)" }

    /// SQL: whether the `pg_locks` row `l` is the granted lock of the relay named by `relay` in
    /// this database (pg_locks shows a bigint key as its high and low 32 bits).
    static func isLock(_ l: String, relay: String) -> String {
        let key = lockKey(relay: relay)
        return """
            \(l).locktype = 'advisory' AND \(l).granted AND \(l).objsubid = 1
            AND \(l).database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND \(l).classid::int8 = (\(key) >> 32) & 4294967295 AND \(l).objid::int8 = \(key) & 4294967295
            """
    }

    private func acquire() async throws -> Int64? {
        let limits = limits
        let epoch = try await database.withSession { [name, topic] session -> Int64? in
            guard try session.query("SELECT pg_try_advisory_lock(\(Self.lockKey)) AS won", [.text(name)])[0]["won"].bool() else { return nil }
            do {
                return try Self.takeOver(session, name: name, topic: topic, limits: limits)
            } catch {
                // Not leading after all: a lock kept would be taken again (counted twice) next time.
                _ = try? session.query("SELECT pg_advisory_unlock(\(Self.lockKey))", [.text(name)])
                throw error
            }
        }
        guard let epoch else {
            let announce = state.withLock { current -> Bool in
                defer { current.announcedStandby = true }
                return !current.announcedStandby
            }
            if announce { logger.info("relay: another node's relay leads; standing by") }
            metrics.leader.record(0)
            return nil
        }
        state.withLock { $0 = State(epoch: epoch, checkedAt: .now) }
        metrics.leader.record(1)
        metrics.epoch.record(epoch)
        logger.notice("relay: leading", metadata: ["epoch": "\(epoch)"])
        return epoch
    }

    /// What a relay does on winning the lock: keepalives on its session, and the take-over's epoch.
    private static func takeOver(_ session: PostgresSession, name: String, topic: String, limits: Limits) throws -> Int64 {
        // A host that vanishes sends nothing; keepalives make PostgreSQL end its session.
        try session.query(
            """
            SELECT set_config('tcp_keepalives_idle', $1, false), set_config('tcp_keepalives_interval', $2, false),
                   set_config('tcp_keepalives_count', $3, false)
            """,
            [
                .text(String(limits.relayLeaderKeepaliveIdleSeconds)), .text(String(limits.relayLeaderKeepaliveIntervalSeconds)),
                .text(String(limits.relayLeaderKeepaliveCount)),
            ])
        return try session.transaction { session in
            try session.query(
                "INSERT INTO relay_checkpoints (relay, topic, position) VALUES ($1, $2, 0) ON CONFLICT (relay) DO NOTHING",
                [.text(name), .text(topic)])
            return try session.query(
                "UPDATE relay_checkpoints SET epoch = epoch + 1, updated_at = now() WHERE relay = $1 RETURNING epoch", [.text(name)]
            )[0]["epoch"].int64()
        }
    }

    private func stillLeads(epoch: Int64) async throws -> Bool {
        let row = try await database.query(
            """
            SELECT c.epoch = $2 AND EXISTS (
                SELECT 1 FROM pg_locks l WHERE l.pid = pg_backend_pid() AND \(Self.isLock("l", relay: "$1"))
            ) AS leads
            FROM relay_checkpoints c
            WHERE c.relay = $1
            """,
            [.text(name), .int64(epoch)])
        return try row.first?["leads"].bool() ?? false
    }
}
