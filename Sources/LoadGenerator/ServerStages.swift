/// Where the server's time went during a run, from its `/metrics` before and after: the
/// group-commit writer's batches and the Redis gate's round trips. Means over the run; nil
/// fields when the run had none of them.
public struct ServerStages: Codable, Sendable, Equatable {
    public var writerBatches: Int
    public var commandsPerBatch: Double?
    /// A batch from being taken to answering its callers (gathering delay included).
    public var batchMeanMs: Double?
    /// One transaction, first statement to COMMIT's answer.
    public var transactionMeanMs: Double?
    /// How long a batch's oldest command waited for the writer.
    public var queueWaitMeanMs: Double?
    public var redisRoundTrips: Int
    public var callsPerRoundTrip: Double?
    public var redisRoundTripMeanMs: Double?

    /// The stages between two scrapes of the Prometheus text format; nil when either lacks the
    /// writer's metrics (a server that does not publish them).
    public init?(before: String, after: String) {
        let (first, last) = (Self.samples(before), Self.samples(after))
        guard first["ledger_writer_batches_total"] != nil, last["ledger_writer_batches_total"] != nil else { return nil }
        func delta(_ series: String) -> Double { (last[series] ?? 0) - (first[series] ?? 0) }
        func mean(_ sum: String, per count: Double, scale: Double = 1) -> Double? { count > 0 ? delta(sum) * scale / count : nil }
        let batches = delta("ledger_writer_batches_total")
        writerBatches = Int(batches)
        commandsPerBatch = mean("ledger_writer_batch_commands_sum", per: batches)
        batchMeanMs = mean("ledger_writer_batch_duration_seconds_sum", per: delta("ledger_writer_batch_duration_seconds_count"), scale: 1_000)
        transactionMeanMs = mean(
            "ledger_writer_transaction_duration_seconds_sum", per: delta("ledger_writer_transaction_duration_seconds_count"), scale: 1_000)
        queueWaitMeanMs = mean("ledger_writer_queue_wait_seconds_sum", per: delta("ledger_writer_queue_wait_seconds_count"), scale: 1_000)
        let roundTrips = delta("redis_pipelines_total")
        redisRoundTrips = Int(roundTrips)
        callsPerRoundTrip = mean("redis_pipeline_calls_sum", per: roundTrips)
        redisRoundTripMeanMs = mean("redis_pipeline_duration_seconds_sum", per: delta("redis_pipeline_duration_seconds_count"), scale: 1_000)
    }

    /// Series (name with its labels) → value, from the Prometheus text format; comments and
    /// lines that are not `series value` are skipped.
    static func samples(_ text: String) -> [String: Double] {
        var samples = [String: Double]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }
}
