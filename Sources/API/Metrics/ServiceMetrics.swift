import Metrics
import Prometheus

/// The process's metrics: one Prometheus registry behind swift-metrics, served at `/metrics`.
/// Bootstrap once per process (`ledger serve`); without it every metric is a no-op.
public enum ServiceMetrics {
    /// Sub-millisecond to seconds: a batch, a pipeline or a request on the fast path takes a
    /// few milliseconds, and Prometheus's default buckets start at 5 ms.
    static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(10),
    ]
    /// Counts of things per batch (commands, script calls): powers of two up to the largest batch.
    static let countBuckets: [Double] = (0...12).map { Double(1 << $0) }
    static let countMetrics = ["ledger_writer_batch_commands", "redis_pipeline_calls"]

    /// A factory recording into `registry`, with this service's histogram buckets.
    public static func factory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        factory.valueHistogramBuckets = Dictionary(uniqueKeysWithValues: countMetrics.map { ($0, countBuckets) })
        return factory
    }

    /// Makes `registry` the process's metrics backend; returns it for the `/metrics` route.
    public static func bootstrap(_ registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) -> PrometheusCollectorRegistry {
        MetricsSystem.bootstrap(factory(registry: registry))
        return registry
    }
}
