import Ledger

/// One Redis connection with its own thread: hiredis's blocking calls never run on the
/// cooperative pool. Reconnects on the next call after the server went away.
public final class RedisConnection: Sendable {
    private let confined: ThreadConfined<HiredisContext>

    private static func closed() -> RedisError { RedisError(code: .closed, message: "connection is closed") }

    private init(confined: ThreadConfined<HiredisContext>) {
        self.confined = confined
    }

    /// Connects to `redis://[:password@]host[:port][/db]`. `timeoutMs` bounds connecting and
    /// each reply (a blocking command must finish within it). Without `requireServer`, an
    /// unreachable server is left for the first call to connect to.
    public static func connect(
        url: String, timeoutMs: Int = Limits().redisConnectTimeoutMs, name: String = "redis", requireServer: Bool = true
    ) async throws -> RedisConnection {
        let parsed = try RedisURL(url)
        let confined = try await ThreadConfined.open(
            name: name,
            closedError: closed,
            { try HiredisContext(url: parsed, timeoutMs: timeoutMs, requireServer: requireServer) })
        return RedisConnection(confined: confined)
    }

    /// Sends one command; an error reply is thrown as `RedisError.server`.
    @discardableResult
    public func command(_ arguments: [RedisArgument]) async throws -> RedisReply {
        try await confined.run { try $0.send(arguments).orThrow() }
    }

    /// Sends all commands in one round trip and returns their replies in order; error replies
    /// stay in the array as `.error`.
    public func pipeline(_ commands: [[RedisArgument]]) async throws -> [RedisReply] {
        guard !commands.isEmpty else { return [] }
        return try await confined.run { try $0.pipeline(commands) }
    }

    /// Runs `script` once with EVALSHA; an error reply is thrown.
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument] = []) async throws -> RedisReply {
        try await evaluate([RedisScriptCall(script, keys: keys, arguments: arguments)])[0].orThrow()
    }

    /// Runs `script` once per call, pipelined; replies in order, error replies as `.error`.
    public func evaluate(
        _ script: RedisScript, calls: [(keys: [RedisArgument], arguments: [RedisArgument])]
    ) async throws -> [RedisReply] {
        try await evaluate(calls.map { RedisScriptCall(script, keys: $0.keys, arguments: $0.arguments) })
    }

    /// Runs each call (scripts may differ), pipelined; replies in order, error replies as `.error`.
    public func evaluate(_ calls: [RedisScriptCall]) async throws -> [RedisReply] {
        guard !calls.isEmpty else { return [] }
        return try await confined.run { try $0.evaluate(calls) }
    }

    /// Runs each call, pipelined, and hands the replies (or the error) to `completion` on this
    /// connection's thread. The pipeline pool answers its callers from there: one hop fewer than
    /// resuming a task that then resumes them.
    func evaluate(_ calls: [RedisScriptCall], completion: @escaping @Sendable (Result<[RedisReply], Error>) -> Void) {
        let submitted = confined.submit { context in
            guard let context else { return completion(.failure(Self.closed())) }
            completion(Result { try context.evaluate(calls) })
        }
        if !submitted { completion(.failure(Self.closed())) }
    }

    public func close() async {
        await confined.close()
    }
}
