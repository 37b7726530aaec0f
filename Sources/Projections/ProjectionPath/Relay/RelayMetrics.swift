import Metrics

/// What the outbox relay reports, once per produce round. With the projector's position, how
/// far Kafka and Redis trail the ledger. Names follow Prometheus conventions, units last.
struct RelayMetrics: Sendable {
    /// Events the broker acknowledged.
    let publishedEvents: Counter
    /// The ledger position up to which every event is delivered.
    let deliveredPosition: Gauge
    /// Rounds that failed (broker or database); the relay retries them.
    let failedRounds: Counter
    /// 1 while this node's relay holds the leadership, 0 while it stands by.
    let leader: Gauge
    /// The epoch of this node's last take-over (each take-over among the nodes bumps it).
    let epoch: Gauge

    init(factory: MetricsFactory) {
        publishedEvents = Counter(label: "ledger_relay_published_events_total", factory: factory)
        deliveredPosition = Gauge(label: "ledger_relay_delivered_position", factory: factory)
        failedRounds = Counter(label: "ledger_relay_failed_rounds_total", factory: factory)
        leader = Gauge(label: "ledger_relay_leader", factory: factory)
        epoch = Gauge(label: "ledger_relay_epoch", factory: factory)
    }
}
