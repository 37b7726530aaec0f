import Metrics

/// What the gate's breaker reports. Names follow Prometheus conventions.
struct GateBreakerMetrics: Sendable {
    /// 0 closed, 1 open (gate calls failed), 2 held open while the read model is rebuilt.
    let state: Gauge
    /// Times gate failures opened the breaker.
    let opened: Counter
    /// Reservation attempts decided by the ledger alone because the breaker was open.
    let bypassed: Counter

    init(factory: MetricsFactory) {
        state = Gauge(label: "ledger_gate_breaker_state", factory: factory)
        opened = Counter(label: "ledger_gate_breaker_opened_total", factory: factory)
        bypassed = Counter(label: "ledger_reservations_without_gate_total", factory: factory)
    }
}
