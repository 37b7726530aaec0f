import Metrics

/// What the Redis pipeline pool reports, once per pipeline (a round trip for all the calls that
/// queued meanwhile), plus the calls it refused. Names follow Prometheus conventions, units last.
struct PipelineMetrics: Sendable {
    /// Pipelines sent (round trips to Redis).
    let pipelines: Counter
    /// Script calls per pipeline.
    let pipelineCalls: Recorder
    /// From sending a pipeline to having all its replies.
    let roundTrip: Metrics.Timer
    /// Calls whose pipeline failed (connection lost or refused).
    let failedCalls: Counter
    /// Calls refused before sending: the queue was full (`overloaded`) or the pool shut down (`closed`).
    let refusedCalls: [RedisError.Code: Counter]

    init(factory: MetricsFactory) {
        pipelines = Counter(label: "redis_pipelines_total", factory: factory)
        pipelineCalls = Recorder(label: "redis_pipeline_calls", factory: factory)
        roundTrip = Metrics.Timer(label: "redis_pipeline_duration_seconds", factory: factory)
        failedCalls = Counter(label: "redis_failed_calls_total", factory: factory)
        refusedCalls = Dictionary(uniqueKeysWithValues: [RedisError.Code.overloaded, .closed].map { code in
            (code, Counter(label: "redis_refused_calls_total", dimensions: [("reason", code.rawValue)], factory: factory))
        })
    }
}
