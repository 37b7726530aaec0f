import Ledger
import Metrics
import ServiceLifecycle
import Synchronization

/// A few connections shared by many concurrent callers. A call that finds a connection idle
/// leaves at once; calls that arrive while every connection is busy wait in a bounded queue, and
/// the first connection to finish sends them as one pipeline: one round trip for the lot, in
/// arrival order. Each connection's thread answers the callers of its pipeline and takes the next
/// one itself, so a call costs its caller one hop there and one back, with no task in between.
///
/// A `Service`: `run` returns after graceful shutdown, once the queued calls are answered.
public final class RedisPipelinePool: Service, Sendable {
    private struct Pending {
        let call: RedisScriptCall
        let deliver: @Sendable (Result<RedisReply, Error>) -> Void
        let enqueuedAt: ContinuousClock.Instant
    }

    private struct State {
        var pending: [Pending] = []
        var idle: [Int]
        var closed = false
        /// `run`, waiting for the shutdown to finish.
        var drained: CheckedContinuation<Void, Never>?
        var shedder: SojournShedder

        /// The next pipeline for a connection that has just become free (nil when it goes idle),
        /// and the calls that waited past the shedding target of a queue that does not drain:
        /// they are answered `overloaded` rather than sent late (`SojournShedder`).
        mutating func nextPipeline(max: Int) -> (send: [Pending], shed: [Pending])? {
            var shed = [Pending]()
            while !pending.isEmpty {
                let taken = pending.removeBatch(max: max)
                let now = ContinuousClock.now
                shedder.observe(wait: now - taken[0].enqueuedAt, drained: pending.isEmpty, at: now)
                let kept = taken.filter { !shedder.sheds(wait: now - $0.enqueuedAt) }
                if kept.count < taken.count { shed += taken.filter { shedder.sheds(wait: now - $0.enqueuedAt) } }
                if !kept.isEmpty { return (kept, shed) }
            }
            return shed.isEmpty ? nil : ([], shed)
        }
    }

    private let connections: [RedisConnection]
    private let maxPipelineLength: Int
    private let maxQueueDepth: Int
    private let state: Mutex<State>
    private let metrics: PipelineMetrics

    /// `metrics` gets one record per pipeline (`PipelineMetrics`); the default is the process's
    /// bootstrapped metrics system.
    public init(
        connections: [RedisConnection], maxPipelineLength: Int, maxQueueDepth: Int, limits: Limits = Limits(),
        metrics: MetricsFactory = MetricsSystem.factory
    ) {
        precondition(!connections.isEmpty, "the pool needs a connection")
        precondition(maxPipelineLength > 0 && maxQueueDepth > 0, "limits are positive")
        self.connections = connections
        self.maxPipelineLength = maxPipelineLength
        self.maxQueueDepth = maxQueueDepth
        self.state = Mutex(State(
            idle: Array(connections.indices), shedder: SojournShedder(targetMs: limits.sheddingTargetMs, intervalMs: limits.sheddingIntervalMs)))
        self.metrics = PipelineMetrics(factory: metrics)
    }

    public static func connect(
        url: String, connections: Int, maxPipelineLength: Int, maxQueueDepth: Int, limits: Limits = Limits(),
        metrics: MetricsFactory = MetricsSystem.factory, requireServer: Bool = true
    ) async throws -> RedisPipelinePool {
        var opened = [RedisConnection]()
        do {
            for index in 0..<connections {
                opened.append(try await RedisConnection.connect(
                    url: url, timeoutMs: limits.redisRequestTimeoutMs, name: "redis-pool-\(index)", requireServer: requireServer))
            }
        } catch {
            for connection in opened { await connection.close() }
            throw error
        }
        return RedisPipelinePool(connections: opened, maxPipelineLength: maxPipelineLength, maxQueueDepth: maxQueueDepth, limits: limits, metrics: metrics)
    }

    /// Runs the script in the next pipeline; an error reply is thrown as `RedisError.server`.
    public func evaluate(_ call: RedisScriptCall) async throws -> RedisReply {
        try await withCheckedThrowingContinuation { continuation in
            evaluate(call) { continuation.resume(with: $0) }
        }.orThrow()
    }

    /// Runs the script in the next pipeline and hands the reply (an error reply as `.error`) or
    /// the failure to `onReply`, exactly once, on the connection's thread: a caller can take its
    /// next step from there instead of waking a task first.
    public func evaluate(_ call: RedisScriptCall, onReply: @escaping @Sendable (Result<RedisReply, Error>) -> Void) {
        let pending = Pending(call: call, deliver: onReply, enqueuedAt: .now)
        // Decided under the lock, acted on outside it: `onReply` may call the pool again.
        let refusal: RedisError?
        let connection: Int?
        (refusal, connection) = state.withLock { state in
            if state.closed { return (RedisError(code: .closed, message: "the Redis pool is shut down"), nil) }
            // A connection is idle only while nothing waits, so this call is the whole pipeline.
            if let idle = state.idle.popLast() { return (nil, idle) }
            if state.pending.count >= maxQueueDepth {
                return (RedisError(code: .overloaded, message: "\(state.pending.count) calls are waiting for Redis"), nil)
            }
            state.pending.append(pending)
            return (nil, nil)
        }
        if let refusal {
            metrics.refusedCalls[refusal.code]?.increment()
            onReply(.failure(refusal))
        }
        if let connection { send([pending], on: connection) }
    }

    /// Returns once `shutdown()` was called (or graceful shutdown or cancellation began) and
    /// every queued call has been answered; then closes the connections.
    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (drained: CheckedContinuation<Void, Never>) in
                    state.withLock { state in
                        if state.closed && state.idle.count == connections.count { drained.resume() } else { state.drained = drained }
                    }
                }
            } onCancel: {
                self.shutdown()
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
        for connection in connections { await connection.close() }
    }

    /// Calls waiting for a connection (for metrics and back-pressure decisions).
    public var queueDepth: Int {
        state.withLock { $0.pending.count }
    }

    /// Takes no new calls; `run` returns after the queued ones are answered.
    public func shutdown() {
        state.withLock { state in
            state.closed = true
            if state.idle.count == connections.count { Self.finishDrain(&state) }
        }
    }

    /// Sends `batch` on connection `index`; on its thread, answers the callers, then sends what
    /// queued meanwhile or marks the connection idle.
    private func send(_ batch: [Pending], on index: Int) {
        let start = ContinuousClock.now
        connections[index].evaluate(batch.map(\.call)) { [self] result in
            metrics.pipelines.increment()
            metrics.pipelineCalls.record(batch.count)
            metrics.roundTrip.record(duration: .now - start)
            switch result {
            case .success(let replies):
                for (pending, reply) in zip(batch, replies) { pending.deliver(.success(reply)) }
            case .failure(let error):
                metrics.failedCalls.increment(by: batch.count)
                for pending in batch { pending.deliver(.failure(error)) }
            }
            let next: (send: [Pending], shed: [Pending]) = state.withLock { state in
                let next = state.nextPipeline(max: maxPipelineLength) ?? ([], [])
                if next.send.isEmpty {
                    state.idle.append(index)
                    if state.closed && state.idle.count == connections.count { Self.finishDrain(&state) }
                }
                return next
            }
            if !next.shed.isEmpty {
                metrics.refusedCalls[.overloaded]?.increment(by: next.shed.count)
                let refusal = RedisError(code: .overloaded, message: "calls wait for Redis longer than the shedding target")
                for pending in next.shed { pending.deliver(.failure(refusal)) }
            }
            if !next.send.isEmpty { send(next.send, on: index) }
        }
    }

    private static func finishDrain(_ state: inout State) {
        state.drained?.resume()
        state.drained = nil
    }
}
