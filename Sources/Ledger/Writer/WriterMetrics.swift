import Metrics

/// What the group-commit writer reports, once per batch: the hot path pays a few increments a
/// batch, never one per command. Names follow Prometheus conventions, units last.
struct WriterMetrics: Sendable {
    /// Batches the writer ran (a batch a guard refused and that was decided again counts once).
    let batches: Counter
    /// Commands per batch.
    let batchCommands: Recorder
    /// From taking the batch to answering its callers: the gathering delay, the transaction, COMMIT.
    let batchDuration: Metrics.Timer
    /// How long the batch's oldest command waited for its batch to be taken.
    let queueWait: Metrics.Timer
    /// One transaction of a batch, from its first statement to COMMIT's answer (no gathering delay).
    let transactionDuration: Metrics.Timer
    /// Commands the writer could not decide, by `LedgerError` code.
    let failedCommands: [LedgerError.Code: Counter]
    /// Commands rejected because the database refused their data (`LedgerWriter.isDataRefusal`).
    let refusedData: Counter

    init(factory: MetricsFactory) {
        batches = Counter(label: "ledger_writer_batches_total", factory: factory)
        batchCommands = Recorder(label: "ledger_writer_batch_commands", factory: factory)
        batchDuration = Metrics.Timer(label: "ledger_writer_batch_duration_seconds", factory: factory)
        queueWait = Metrics.Timer(label: "ledger_writer_queue_wait_seconds", factory: factory)
        transactionDuration = Metrics.Timer(label: "ledger_writer_transaction_duration_seconds", factory: factory)
        refusedData = Counter(label: "ledger_writer_refused_data_commands_total", factory: factory)
        failedCommands = Dictionary(uniqueKeysWithValues: LedgerError.Code.allCases.map { code in
            (code, Counter(label: "ledger_writer_failed_commands_total", dimensions: [("code", code.rawValue)], factory: factory))
        })
    }

    func failed(_ code: LedgerError.Code, commands: Int) {
        failedCommands[code]?.increment(by: commands)
    }
}
