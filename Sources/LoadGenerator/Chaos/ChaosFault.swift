/// One fault of a chaos run: what fails, on which node, when (from the run's start) and for how
/// long. The schedule gives the plan; the run records when each fault really began and ended.
public struct ChaosFault: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// SIGKILL of a node; it is started again at the fault's end.
        case nodeKill = "node-kill"
        /// SIGKILL of the node that leads the relay; started again at the end.
        case relayLeaderKill = "relay-leader-kill"
        /// SIGSTOP of Redis, SIGCONT at the end.
        case redisFreeze = "redis-freeze"
        /// SIGSTOP of PostgreSQL's postmaster and every backend, SIGCONT at the end.
        case postgresFreeze = "postgres-freeze"
        /// SIGSTOP of the Kafka development broker process, SIGCONT at the end.
        case kafkaFreeze = "kafka-freeze"
        /// SIGKILL of Redis, started again empty at the end (it keeps nothing on disk).
        case redisRestartEmpty = "redis-restart-empty"
        /// An immediate shutdown of PostgreSQL (crash recovery at start), started again at the end.
        case postgresRestart = "postgres-restart"
        /// Every Kafka broker down, up again at the end.
        case kafkaBrokersDown = "kafka-brokers-down"
    }

    public var kind: Kind
    /// The node (1-based) a node kill hits; for the relay leader, the node found leading.
    public var node: Int?
    /// Planned: milliseconds from the run's start. Recorded: epoch milliseconds.
    public var startMs: Int64
    public var endMs: Int64

    public init(kind: Kind, node: Int? = nil, startMs: Int64, endMs: Int64) {
        self.kind = kind
        self.node = node
        self.startMs = startMs
        self.endMs = endMs
    }
}
