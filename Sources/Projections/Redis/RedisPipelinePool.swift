import Ledger
import ServiceLifecycle

/// A few connections shared by many concurrent callers. Script calls that arrive while every
/// connection is busy wait in a bounded queue and leave together as one pipeline on the next
/// free connection: one round trip and one thread hop for the lot, in arrival order.
///
/// A `Service`: `run` sends pipelines until graceful shutdown, then answers what was queued.
public final class RedisPipelinePool: Service, Sendable {
    private struct Pending {
        let call: RedisScriptCall
        let continuation: CheckedContinuation<RedisReply, Error>
    }

    private let connections: [RedisConnection]
    private let maxPipelineLength: Int
    private let queue: BatchingQueue<Pending>

    public init(connections: [RedisConnection], maxPipelineLength: Int, maxQueueDepth: Int) {
        precondition(!connections.isEmpty, "the pool needs a connection")
        precondition(maxPipelineLength > 0 && maxQueueDepth > 0, "limits are positive")
        self.connections = connections
        self.maxPipelineLength = maxPipelineLength
        self.queue = BatchingQueue(maxDepth: maxQueueDepth)
    }

    public static func connect(url: String, connections: Int, maxPipelineLength: Int, maxQueueDepth: Int) async throws -> RedisPipelinePool {
        var opened = [RedisConnection]()
        do {
            for index in 0..<connections {
                opened.append(try await RedisConnection.connect(url: url, name: "redis-pool-\(index)"))
            }
        } catch {
            for connection in opened { await connection.close() }
            throw error
        }
        return RedisPipelinePool(connections: opened, maxPipelineLength: maxPipelineLength, maxQueueDepth: maxQueueDepth)
    }

    /// Runs the script in the next pipeline; an error reply is thrown as `RedisError.server`.
    public func evaluate(_ call: RedisScriptCall) async throws -> RedisReply {
        try await withCheckedThrowingContinuation { continuation in
            switch queue.enqueue(Pending(call: call, continuation: continuation)) {
            case nil: break
            case .closed?: continuation.resume(throwing: RedisError(code: .closed, message: "the Redis pool is shut down"))
            case .full(let depth)?: continuation.resume(throwing: RedisError(code: .overloaded, message: "\(depth) calls are waiting for Redis"))
            }
        }.orThrow()
    }

    public func run() async throws {
        await queue.dispatch(to: connections, nextBatch: nextBatch) { batch, connection in
            await Self.send(batch, on: connection)
        }
        for connection in connections { await connection.close() }
    }

    /// Calls waiting for a connection (for metrics and back-pressure decisions).
    public var queueDepth: Int {
        queue.peek().count
    }

    /// Takes no new calls; `run` returns after the queued ones are answered.
    public func shutdown() {
        queue.close()
    }

    private func nextBatch() async -> [Pending]? {
        while true {
            await queue.waitForWork()
            guard let batch = queue.take(max: maxPipelineLength) else { return nil }  // closed and drained
            if !batch.isEmpty { return batch }
        }
    }

    private static func send(_ batch: [Pending], on connection: RedisConnection) async {
        do {
            let replies = try await connection.evaluate(batch.map(\.call))
            for (pending, reply) in zip(batch, replies) { pending.continuation.resume(returning: reply) }
        } catch {
            for pending in batch { pending.continuation.resume(throwing: error) }
        }
    }
}
