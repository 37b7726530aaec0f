import Synchronization

/// One PostgreSQL connection with its own thread: every libpq call runs there, never on the
/// cooperative pool. Statements from concurrent callers run one after another, and a
/// `transaction` body runs whole on the thread, so nothing interleaves inside it.
public final class PostgresConnection: Sendable {
    private let confined: ThreadConfined<LibPQConnection>
    /// The URL with its password masked, for logs.
    public let redactedURL: String
    /// Calls queued or running on the connection, and how many may be (nil: no bound).
    private let inFlight = Atomic<Int>(0)
    private let maxQueueDepth: Int?

    private init(confined: ThreadConfined<LibPQConnection>, redactedURL: String, maxQueueDepth: Int?) {
        self.confined = confined
        self.redactedURL = redactedURL
        self.maxQueueDepth = maxQueueDepth
    }

    /// Connects to a `postgresql://` URL (or any libpq connection string). With `maxQueueDepth`,
    /// a call made while that many wait throws `overloaded` at once instead of queueing: for a
    /// connection that serves clients (the API's reads), whose queue clients could grow. With
    /// `answerTimeoutMs`, a call (and a connect) gives up on a server that does not answer
    /// within it: for connections a request waits on.
    public static func connect(
        url: String, name: String = "postgres",
        maxPreparedStatements: Int = Limits().postgresMaxPreparedStatementsPerConnection,
        planning: StatementPlanning = .perRun, maxQueueDepth: Int? = nil, answerTimeoutMs: Int? = nil
    ) async throws -> PostgresConnection {
        let confined = try await ThreadConfined.open(
            name: name,
            closedError: { PostgresError(code: .closed, message: "connection is closed") },
            {
                try LibPQConnection(
                    conninfo: url, maxPreparedStatements: maxPreparedStatements, planning: planning, answerTimeoutMs: answerTimeoutMs)
            })
        return PostgresConnection(confined: confined, redactedURL: ConnectionURL.redacted(url), maxQueueDepth: maxQueueDepth)
    }

    /// Runs one statement with bind parameters and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) async throws -> PostgresRows {
        try await withSession { try $0.query(sql, parameters) }
    }

    /// Runs `body` on the connection's thread with exclusive use of the connection.
    public func withSession<T: Sendable>(
        _ body: @escaping @Sendable (PostgresSession) throws -> T
    ) async throws -> T {
        guard let maxQueueDepth else { return try await confined.run { try body(PostgresSession(connection: $0)) } }
        defer { inFlight.subtract(1, ordering: .relaxed) }
        guard inFlight.add(1, ordering: .relaxed).newValue <= maxQueueDepth else {
            throw PostgresError(code: .overloaded, message: "\(maxQueueDepth) calls already wait for this connection")
        }
        return try await confined.run { try body(PostgresSession(connection: $0)) }
    }

    /// Runs `body` inside BEGIN … COMMIT; rolls back and rethrows when it throws. A COMMIT whose
    /// outcome is unknown (connection lost) throws `connectionLost`, never reports success.
    public func transaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresSession) throws -> T
    ) async throws -> T {
        try await withSession { session in try session.transaction { try body($0) } }
    }

    /// Subscribes this connection to a NOTIFY channel; it is subscribed again after a reconnect.
    public func listen(_ channel: String) async throws {
        try await confined.run { try $0.listen(channel) }
    }

    /// Notifications on the channels this connection listens to. Each `next()` waits on the
    /// connection's thread in short polls, so cancelling the consuming task ends the sequence.
    /// Notifications sent while the connection was down are lost: consumers poll as a fallback.
    public var notifications: PostgresNotificationSequence {
        PostgresNotificationSequence(connection: self)
    }

    /// Waits up to `timeoutMs` for notifications; returns those that arrived (maybe none).
    public func waitForNotifications(timeoutMs: Int32) async throws -> [PostgresNotification] {
        try await confined.run { try $0.notifications(timeoutMs: timeoutMs) }
    }

    /// Closes the connection and ends its thread. Later calls throw `closed`.
    public func close() async {
        await confined.close()
    }
}
