/// Where a group consumer stands in its consumer group, as its rebalance callbacks and its
/// last poll left it.
public struct KafkaGroupStatus: Sendable, Equatable {
    /// Holds an assignment from the group (possibly empty: more members than partitions).
    public var isMember = false
    /// Times the group took the assignment away without a clean hand-over: a session that
    /// timed out (brokers frozen or unreachable), a fenced or unknown member. librdkafka rejoins
    /// by itself once the consumer polls again.
    public var lostAssignments = 0
    /// Offset commits the coordinator refused or never answered (queued ones included).
    public var failedCommits = 0
    /// Messages the assigned partitions hold past the consumer's position.
    public var lagMessages: Int64 = 0

    public init() {}
}
