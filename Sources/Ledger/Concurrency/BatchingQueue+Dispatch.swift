import ServiceLifecycle

extension BatchingQueue {
    /// The consumer's run loop: once a connection is idle, the batch `nextBatch` returns goes to
    /// it, until `nextBatch` returns nil. Graceful shutdown and task
    /// cancellation (a sibling service failed) both close the queue, so what is queued is still
    /// sent and every caller answered before this returns.
    public func dispatch<Connection: Sendable>(
        to connections: [Connection], nextBatch: () async -> [Element]?,
        send: @escaping @Sendable ([Element], Connection) async -> Void
    ) async {
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withTaskGroup(of: Connection.self) { group in
                    var idle = connections
                    while true {
                        // Take the batch only once a connection is free: what arrives meanwhile
                        // joins it instead of waiting behind it.
                        if idle.isEmpty, let freed = await group.next() { idle.append(freed) }
                        guard let batch = await nextBatch() else { break }
                        let connection = idle.removeLast()
                        group.addTask {
                            await send(batch, connection)
                            return connection
                        }
                    }
                }
            } onCancel: {
                self.close()
            }
        } onGracefulShutdown: {
            self.close()
        }
    }
}
