/// NOTIFY messages as an async sequence. It ends when the consuming task is cancelled or the
/// connection is closed; a lost server connection is re-established (and LISTEN re-issued)
/// with a short back-off instead of ending the sequence.
public struct PostgresNotificationSequence: AsyncSequence, Sendable {
    public typealias Element = PostgresNotification
    let connection: PostgresConnection

    public func makeAsyncIterator() -> Iterator {
        Iterator(connection: connection)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let connection: PostgresConnection
        var buffered: [PostgresNotification] = []

        /// Short polls keep the thread free for other calls and notice cancellation quickly.
        static let pollTimeoutMs: Int32 = 200
        static let reconnectDelay: Duration = .milliseconds(250)

        public mutating func next() async throws -> PostgresNotification? {
            while buffered.isEmpty {
                if Task.isCancelled { return nil }
                do {
                    buffered = try await connection.waitForNotifications(timeoutMs: Self.pollTimeoutMs)
                } catch let error as PostgresError where error.isRetriable {
                    try? await Task.sleep(for: Self.reconnectDelay)
                } catch let error as PostgresError where error.code == .closed {
                    return nil
                }
            }
            return buffered.removeFirst()
        }
    }
}
