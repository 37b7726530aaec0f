import Foundation
import Histogram
import Synchronization

/// Collects every request's outcome: an HdrHistogram of latencies (µs), counts by outcome, and a
/// per-second timeline, all thread-safe. Latency is measured from when a request was meant to be
/// sent (open loop) or was sent (closed loop).
public final class LoadRecorder: Sendable {
    struct Second {
        var requests = 0
        var successes = 0
        var latencies = Histogram<UInt64>(highestTrackableValue: LoadRecorder.maxLatencyUs, numberOfSignificantValueDigits: .three)
    }

    struct State {
        var latencies = Histogram<UInt64>(highestTrackableValue: LoadRecorder.maxLatencyUs, numberOfSignificantValueDigits: .three)
        /// The successes' alone: what a shedding server keeps short while it refuses the excess.
        var successLatencies = Histogram<UInt64>(highestTrackableValue: LoadRecorder.maxLatencyUs, numberOfSignificantValueDigits: .three)
        var outcomes: [String: Int] = [:]
        var seconds: [Second] = []
        var acknowledged: [String] = []
    }

    /// Latencies above a minute are recorded as a minute.
    static let maxLatencyUs: UInt64 = 60_000_000

    private let start: ContinuousClock.Instant
    /// The wall-clock time of `start`, so the timeline can be lined up with other recordings.
    private let startedAt: Date
    private let state = Mutex(State())

    public init(start: ContinuousClock.Instant, startedAt: Date = Date()) {
        self.start = start
        self.startedAt = startedAt
    }

    /// One answered (or failed) request. `outcome` is `201`, `409 sold-out`, `error: …`.
    public func record(intendedAt: ContinuousClock.Instant, finishedAt: ContinuousClock.Instant, outcome: String, success: Bool) {
        let latency = finishedAt - intendedAt
        let micros = UInt64(max(0, min(Double(LoadRecorder.maxLatencyUs), latency.microseconds)))
        let second = max(0, Int((intendedAt - start).microseconds / 1_000_000))
        state.withLock { state in
            _ = state.latencies.record(micros)
            if success { _ = state.successLatencies.record(micros) }
            state.outcomes[outcome, default: 0] += 1
            while state.seconds.count <= second { state.seconds.append(Second()) }
            state.seconds[second].requests += 1
            if success { state.seconds[second].successes += 1 }
            _ = state.seconds[second].latencies.record(micros)
        }
    }

    /// A reservation the server acknowledged with 201 (checked against the ledger at the end).
    public func acknowledge(_ reservationId: String) {
        state.withLock { $0.acknowledged.append(reservationId) }
    }

    public var acknowledged: [String] { state.withLock { $0.acknowledged } }

    /// The figures so far, over `elapsed`.
    public func summary(elapsed: Duration) -> LoadSummary {
        state.withLock { state in
            let seconds = max(elapsed.microseconds / 1_000_000, 0.001)
            let total = Int(state.latencies.totalCount)
            func ms(_ value: UInt64) -> Double { Double(value) / 1000 }
            let successes = state.seconds.reduce(0) { $0 + $1.successes }
            return LoadSummary(
                productId: nil, startedAtUnixMs: Int64((startedAt.timeIntervalSince1970 * 1000).rounded()), requests: total, seconds: seconds, requestsPerSecond: Double(total) / seconds,
                successesPerSecond: Double(successes) / seconds,
                latencyMs: .init(state.latencies), successLatencyMs: .init(state.successLatencies),
                outcomes: state.outcomes,
                timeline: state.seconds.enumerated().map { index, second in
                    .init(second: index, requests: second.requests, successes: second.successes,
                          p50Ms: ms(second.latencies.valueAtPercentile(50)), p99Ms: ms(second.latencies.valueAtPercentile(99)))
                })
        }
    }
}

extension Duration {
    var microseconds: Double {
        Double(components.seconds) * 1_000_000 + Double(components.attoseconds) / 1e12
    }
}
