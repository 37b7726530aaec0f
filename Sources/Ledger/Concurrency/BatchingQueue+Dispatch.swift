import ServiceLifecycle

extension BatchingQueue {
    /// The consumer's run loop: every batch `nextBatch` returns goes to an idle connection
    /// (waiting for one to come free) until it returns nil. Graceful shutdown and task
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
                    while let batch = await nextBatch() {
                        if idle.isEmpty, let freed = await group.next() { idle.append(freed) }
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
