import CHiredis
import Ledger

/// The hiredis handle, used only from its `RedisConnection`'s thread. Every reply object is
/// freed before a method returns; the context is freed on close and before each reconnect.
final class HiredisContext {
    private var context: UnsafeMutablePointer<redisContext>?
    private let url: RedisURL
    private let timeoutMs: Int
    /// SHA1 of each script source, as SCRIPT LOAD returned it.
    private var scriptHashes: [String: (source: String, hash: String)] = [:]

    /// Without `requireServer`, a server that cannot be reached now is not an error: the first
    /// call connects (a node starts degraded while Redis is down). A server that answers wrongly
    /// (a refused password) still is.
    init(url: RedisURL, timeoutMs: Int, requireServer: Bool = true) throws {
        self.url = url
        self.timeoutMs = timeoutMs
        do {
            try connect()
        } catch let error as RedisError where !requireServer && (error.code == .connectionFailed || error.code == .connectionLost) {
            context = nil
        }
    }

    deinit {
        if let context { redisFree(context) }
    }

    // MARK: Connection state

    private func connect() throws {
        let timeout = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
        guard let newContext = redisConnectWithTimeout(url.host, url.port, timeout) else {
            throw RedisError(code: .connectionFailed, message: "out of memory")
        }
        if newContext.pointee.err != 0 {
            let message = Self.errorText(newContext)
            redisFree(newContext)
            throw RedisError(code: .connectionFailed, message: "\(url.host):\(url.port): \(message)")
        }
        redisSetTimeout(newContext, timeout)
        context = newContext
        if let password = url.password {
            _ = try send([RedisArgument("AUTH"), RedisArgument(password)]).orThrow()
        }
        if url.database != 0 {
            _ = try send(["SELECT", RedisArgument(url.database)]).orThrow()
        }
    }

    /// Reconnects when the previous call broke the context or the server closed the socket
    /// while idle (RESP2 sends nothing unasked, so a readable idle socket means EOF or error).
    private func ensureConnected() throws -> UnsafeMutablePointer<redisContext> {
        if let context {
            if context.pointee.err == 0 && !SocketReadiness.isReadable(context.pointee.fd) { return context }
            redisFree(context)
            self.context = nil
        }
        try connect()
        return context!
    }

    private func connectionLost(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = Self.errorText(context)
        redisFree(context)
        self.context = nil
        return RedisError(code: .connectionLost, message: message)
    }

    // MARK: Commands

    func send(_ arguments: [RedisArgument]) throws -> RedisReply {
        try pipeline([arguments])[0]
    }

    /// Writes every command, then reads every reply: one round trip for the lot.
    func pipeline(_ commands: [[RedisArgument]]) throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        let context = try ensureConnected()
        var wire = [UInt8]()
        wire.reserveCapacity(RedisCommandEncoding.capacity(for: commands))
        for arguments in commands {
            precondition(!arguments.isEmpty, "a Redis command needs a name")
            RedisCommandEncoding.append(arguments, to: &wire)
        }
        let appended = wire.withUnsafeBytes { redisAppendFormattedCommand(context, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        if appended != REDIS_OK { throw connectionLost(context) }
        var replies = [RedisReply]()
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw connectionLost(context) }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    /// EVALSHA for each call, pipelined; scripts are loaded first when this connection has not
    /// seen them. A call answered NOSCRIPT (the cache flushed, Redis restarted or failed over)
    /// runs again as EVAL with the source: that cannot miss however often the cache is flushed
    /// meanwhile, and it caches the script again under the same hash for the next EVALSHA.
    func evaluate(_ calls: [RedisScriptCall]) throws -> [RedisReply] {
        var replies = try pipeline(calls.map { Self.evalsha(try hash(of: $0.script), $0) })
        let missing = replies.indices.filter { replies[$0].isNoScript }
        if !missing.isEmpty {
            let retried = try pipeline(missing.map { Self.eval(calls[$0]) })
            for (index, reply) in zip(missing, retried) { replies[index] = reply }
        }
        return replies
    }

    /// Keyed by the script's short name (not by hashing a whole Lua source on every call); the
    /// source comparison, instant for the same static text, keeps a reused name safe.
    private func hash(of script: RedisScript) throws -> String {
        if let known = scriptHashes[script.name], known.source == script.source { return known.hash }
        guard let hash = try send(["SCRIPT", "LOAD", RedisArgument(script.source)]).orThrow().string else {
            throw RedisError(code: .unexpectedReply, message: "SCRIPT LOAD of \(script.name) returned no hash")
        }
        scriptHashes[script.name] = (script.source, hash)
        return hash
    }

    private static func evalsha(_ hash: String, _ call: RedisScriptCall) -> [RedisArgument] {
        ["EVALSHA", RedisArgument(hash), RedisArgument(call.keys.count)] + call.keys + call.arguments
    }

    private static func eval(_ call: RedisScriptCall) -> [RedisArgument] {
        ["EVAL", RedisArgument(call.script.source), RedisArgument(call.keys.count)] + call.keys + call.arguments
    }

    // MARK: Helpers

    private static func convert(_ reply: UnsafePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STATUS:
            return .status(text(value))
        case REDIS_REPLY_ERROR:
            return .error(text(value))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(value.integer))
        case REDIS_REPLY_STRING:
            return .bulk(value.str.map { Array(UnsafeRawBufferPointer(start: $0, count: value.len)) } ?? [])
        case REDIS_REPLY_ARRAY:
            return .array((0..<value.elements).map { convert(value.element[$0]!) })
        default:
            return .null
        }
    }

    private static func text(_ reply: redisReply) -> String {
        guard let str = reply.str else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: str, count: reply.len), as: UTF8.self)
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}

private extension RedisReply {
    var isNoScript: Bool {
        if case .error(let message) = self { return message.hasPrefix("NOSCRIPT") }
        return false
    }
}
