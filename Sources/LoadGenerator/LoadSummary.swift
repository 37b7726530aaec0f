import Histogram

/// What a load run measured (the `--json` output), plus the invariant check when it ran.
public struct LoadSummary: Codable, Sendable {
    public struct Latency: Codable, Sendable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double

        /// The percentiles of a histogram of microseconds, in milliseconds.
        init(_ histogram: Histogram<UInt64>) {
            func ms(_ value: UInt64) -> Double { Double(value) / 1000 }
            p50 = ms(histogram.valueAtPercentile(50))
            p90 = ms(histogram.valueAtPercentile(90))
            p99 = ms(histogram.valueAtPercentile(99))
            p999 = ms(histogram.valueAtPercentile(99.9))
            max = ms(histogram.max)
        }
    }

    public struct Second: Codable, Sendable {
        public var second: Int
        public var requests: Int
        public var successes: Int
        public var p50Ms: Double
        public var p99Ms: Double
    }

    public struct Invariants: Codable, Sendable {
        /// 201s the load received, and how many of them the ledger holds.
        public var acknowledged: Int
        public var inLedger: Int
        public var unitsSold: Int64
        public var stock: Int64
        /// Differences `ledger audit` found (tables and Redis).
        public var auditDifferences: Int
        public var holds: Bool { inLedger == acknowledged && unitsSold <= stock && auditDifferences == 0 }

        public init(acknowledged: Int, inLedger: Int, unitsSold: Int64, stock: Int64, auditDifferences: Int) {
            self.acknowledged = acknowledged
            self.inLedger = inLedger
            self.unitsSold = unitsSold
            self.stock = stock
            self.auditDifferences = auditDifferences
        }

    }

    /// The product the run targeted.
    public var productId: Int64?
    /// When the clock started (Unix time, ms): second 0 of the timeline begins here.
    public var startedAtUnixMs: Int64
    public var requests: Int
    public var seconds: Double
    public var requestsPerSecond: Double
    public var successesPerSecond: Double
    public var latencyMs: Latency
    /// The same for successful answers only (201s, and the answers a scenario counts as served).
    public var successLatencyMs: Latency
    /// `201`, `409 sold-out`, `error: …` → count.
    public var outcomes: [String: Int]
    public var timeline: [Second]
    public var invariants: Invariants?
    /// The server's own figures for the run, when it publishes them (`/metrics`).
    public var serverStages: ServerStages?
}
