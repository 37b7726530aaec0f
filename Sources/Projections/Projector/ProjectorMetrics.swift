import Metrics

/// What the Redis projector reports, once per applied batch. Names follow Prometheus
/// conventions, units last.
struct ProjectorMetrics: Sendable {
    /// Events applied to Redis (events applied before and delivered again count too: they change nothing).
    let appliedEvents: Counter
    /// The highest ledger position among the applied events.
    let appliedPosition: Gauge
    /// Batches that failed and were tried again.
    let failedBatches: Counter
    /// Read-model rebuilds from the ledger begun after the topic lost messages nobody applied.
    let rebuilds: Counter

    init(factory: MetricsFactory) {
        appliedEvents = Counter(label: "ledger_projector_applied_events_total", factory: factory)
        appliedPosition = Gauge(label: "ledger_projector_applied_position", factory: factory)
        failedBatches = Counter(label: "ledger_projector_failed_batches_total", factory: factory)
        rebuilds = Counter(label: "ledger_projector_rebuilds_total", factory: factory)
    }
}
