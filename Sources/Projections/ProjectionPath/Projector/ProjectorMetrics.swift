import Metrics

/// What the Redis projector reports. Names follow Prometheus conventions, units last.
struct ProjectorMetrics: Sendable {
    /// Events applied to Redis (events applied before and delivered again count too: they change nothing).
    let appliedEvents: Counter
    /// The highest ledger position among the applied events.
    let appliedPosition: Gauge
    /// Batches that failed and were tried again.
    let failedBatches: Counter
    /// Offset commits that failed after Redis applied their batch; a later commit or a
    /// redelivery (which changes nothing) covers them.
    let failedCommits: Counter
    /// Read-model rebuilds from the ledger begun after the topic lost messages nobody applied.
    let rebuilds: Counter
    /// 1 while the projector holds an assignment from its consumer group, 0 while it (re)joins.
    let groupMember: Gauge
    /// Times the group dropped the projector (session timed out, fenced or unknown member) and it rejoined.
    let groupRejoins: Counter
    /// Messages the assigned partitions hold that the projector has not consumed yet.
    let lagMessages: Gauge

    init(factory: MetricsFactory) {
        appliedEvents = Counter(label: "ledger_projector_applied_events_total", factory: factory)
        appliedPosition = Gauge(label: "ledger_projector_applied_position", factory: factory)
        failedBatches = Counter(label: "ledger_projector_failed_batches_total", factory: factory)
        failedCommits = Counter(label: "ledger_projector_failed_commits_total", factory: factory)
        rebuilds = Counter(label: "ledger_projector_rebuilds_total", factory: factory)
        groupMember = Gauge(label: "ledger_projector_group_member", factory: factory)
        groupRejoins = Counter(label: "ledger_projector_group_rejoins_total", factory: factory)
        lagMessages = Gauge(label: "ledger_projector_lag_messages", factory: factory)
    }
}
