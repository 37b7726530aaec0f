import ServiceLifecycle
import Synchronization

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

    private struct Queue {
        var pending: [Pending] = []
        var wakeUp: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let connections: [RedisConnection]
    private let maxPipelineLength: Int
    private let maxQueueDepth: Int
    private let queue = Mutex(Queue())

    public init(connections: [RedisConnection], maxPipelineLength: Int, maxQueueDepth: Int) {
        precondition(!connections.isEmpty, "the pool needs a connection")
        precondition(maxPipelineLength > 0 && maxQueueDepth > 0, "limits are positive")
        self.connections = connections
        self.maxPipelineLength = maxPipelineLength
        self.maxQueueDepth = maxQueueDepth
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
            let refusal: RedisError? = queue.withLock { queue in
                if queue.closed { return RedisError(code: .closed, message: "the Redis pool is shut down") }
                if queue.pending.count >= maxQueueDepth {
                    return RedisError(code: .overloaded, message: "\(queue.pending.count) calls are waiting for Redis")
                }
                queue.pending.append(Pending(call: call, continuation: continuation))
                queue.wakeUp?.resume()
                queue.wakeUp = nil
                return nil
            }
            if let refusal { continuation.resume(throwing: refusal) }
        }.orThrow()
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withTaskGroup(of: RedisConnection.self) { group in
                    var idle = connections
                    while let batch = await nextBatch() {
                        if idle.isEmpty, let freed = await group.next() { idle.append(freed) }
                        let connection = idle.removeLast()
                        group.addTask {
                            await Self.send(batch, on: connection)
                            return connection
                        }
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

    /// Takes no new calls; `run` returns after the queued ones are answered.
    public func shutdown() {
        queue.withLock { queue in
            queue.closed = true
            queue.wakeUp?.resume()
            queue.wakeUp = nil
        }
    }

    private func nextBatch() async -> [Pending]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.withLock { queue in
                if queue.pending.isEmpty && !queue.closed {
                    queue.wakeUp = continuation
                } else {
                    continuation.resume()
                }
            }
        }
        return queue.withLock { queue in
            if queue.pending.isEmpty { return nil }  // closed and drained
            let size = min(queue.pending.count, maxPipelineLength)
            let batch = Array(queue.pending.prefix(size))
            queue.pending.removeFirst(size)
            return batch
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
