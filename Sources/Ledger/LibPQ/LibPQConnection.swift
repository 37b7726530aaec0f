import CLibPQ

/// The libpq handle. Not thread-safe by design: a `PostgresConnection` touches it only from
/// its own `BlockingWorker` thread. Every `PGresult` is cleared before a method returns.
final class LibPQConnection {
    /// A statement text and its parameter types: what one server-side prepared statement is for.
    private struct StatementKey: Hashable {
        let sql: String
        let typeOIDs: [UInt32]
    }

    private var handle: OpaquePointer?
    private let conninfo: String
    private let maxPreparedStatements: Int
    private let planning: StatementPlanning
    /// How long one call may wait for the server's answers (nil: as long as it takes). A call
    /// past it drops the connection and throws `connectionLost`: a frozen server (SIGSTOP, a
    /// hung disk, a partition) accepts bytes and never answers, and no socket error ends that.
    private let answerTimeout: Duration?
    private var listenedChannels: [String] = []
    /// Names of the statements prepared on the current session (gone with a reconnect).
    private var preparedStatements: [StatementKey: String] = [:]

    /// With `answerTimeoutMs`, connecting is bounded too (`connectTimeoutSeconds`, libpq's
    /// `connect_timeout`: whole seconds, at least 2).
    init(
        conninfo: String, maxPreparedStatements: Int, planning: StatementPlanning, answerTimeoutMs: Int? = nil,
        connectTimeoutSeconds: Int = Limits().postgresConnectTimeoutSeconds
    ) throws {
        precondition(maxPreparedStatements >= 0, "a negative number of prepared statements")
        precondition(answerTimeoutMs.map { $0 > 0 } ?? true, "a positive timeout")
        self.conninfo = answerTimeoutMs == nil ? conninfo : ConnectionURL.withConnectTimeout(conninfo, seconds: max(2, connectTimeoutSeconds))
        self.maxPreparedStatements = maxPreparedStatements
        self.planning = planning
        self.answerTimeout = answerTimeoutMs.map { .milliseconds($0) }
        try connect()
    }

    deinit {
        close()
    }

    func close() {
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
    }

    // MARK: Connection state

    private func connect() throws {
        let newHandle = PQconnectdb(conninfo)
        guard let newHandle, PQstatus(newHandle) == CONNECTION_OK else {
            let message = newHandle.map { Self.lastError(of: $0) } ?? "out of memory"
            if let newHandle { PQfinish(newHandle) }
            throw PostgresError(code: .connectionFailed, message: message)
        }
        handle = newHandle
        preparedStatements = [:]
        // Keep libpq's NOTICE chatter (e.g. "relation already exists, skipping") out of stderr.
        PQsetNoticeProcessor(newHandle, { _, _ in }, nil)
        for setting in planning.sessionSettings {
            _ = try run(sql: setting, parameters: [])
        }
        for channel in listenedChannels {
            _ = try run(sql: "LISTEN \(try quotedIdentifier(channel))", parameters: [])
        }
    }

    /// Reconnects if the server went away while the connection was idle. A server that was
    /// restarted closes its sockets, so a zero-timeout poll sees EOF before we send anything:
    /// the next statement then runs on a fresh connection instead of failing.
    private func ensureConnected() throws {
        if let handle, PQstatus(handle) == CONNECTION_OK {
            let socket = PQsocket(handle)
            guard SocketReadiness.isReadable(socket) else { return }
            // A shutting-down server first sends FATAL 57P01, then closes: consume what came
            // (notifications stay queued for PQnotifies) and look for the EOF behind it.
            if PQconsumeInput(handle) == 1 && PQstatus(handle) == CONNECTION_OK && !SocketReadiness.peerClosed(socket) {
                return
            }
        }
        if let handle {
            PQfinish(handle)
            self.handle = nil
        }
        try connect()
    }

    private func liveHandle() throws -> OpaquePointer {
        try ensureConnected()
        guard let handle else {
            throw PostgresError(code: .connectionFailed, message: "not connected")
        }
        return handle
    }

    // MARK: Statements

    /// Runs one statement with bind parameters (extended protocol) and reads the whole result.
    /// Statements with parameters are prepared once per session (up to `maxPreparedStatements`),
    /// so the writer's batch statements are parsed and analysed once, not once per batch.
    func run(sql: String, parameters: [PostgresValue]) throws -> PostgresRows {
        let handle = try liveHandle()
        let deadline = answerTimeout.map { ContinuousClock.now + $0 }
        let statement = try preparedStatement(for: sql, parameters, on: handle, deadline: deadline)
        let sent = Self.withWireParameters(parameters) { count, types, values, lengths, formats in
            if let statement {
                PQsendQueryPrepared(handle, statement, count, values, lengths, formats, 0)
            } else {
                PQsendQueryParams(handle, sql, count, types, values, lengths, formats, 0)
            }
        }
        guard sent == 1 else { throw abandon(handle) }
        return try consume(try lastResult(handle, deadline: deadline), handle: handle)
    }

    /// Reads every result of the command sent last and returns the last one (what a blocking
    /// `PQexec` returns), waiting for each within `deadline`.
    private func lastResult(_ handle: OpaquePointer, deadline: ContinuousClock.Instant?) throws -> OpaquePointer? {
        var last: OpaquePointer?
        while true {
            try awaitAnswer(handle, deadline: deadline)
            guard let result = PQgetResult(handle) else { return last }
            if let last { PQclear(last) }
            last = result
        }
    }

    /// Returns once `PQgetResult` would not block; past `deadline` (if any), drops the
    /// connection and throws `connectionLost`: what was sent may or may not have run.
    private func awaitAnswer(_ handle: OpaquePointer, deadline: ContinuousClock.Instant?) throws {
        guard let deadline else { return }
        while PQisBusy(handle) == 1 {
            let remaining = deadline - .now
            let remainingMs = Int32(clamping: remaining.components.seconds * 1_000 + remaining.components.attoseconds / 1_000_000_000_000_000)
            guard remaining > .zero, SocketReadiness.isReadable(PQsocket(handle), timeoutMs: max(1, remainingMs)) else {
                PQfinish(handle)
                self.handle = nil
                throw PostgresError(code: .connectionLost, message: "PostgreSQL did not answer within \(answerTimeout ?? .zero)")
            }
            guard PQconsumeInput(handle) == 1 else { throw abandon(handle) }
        }
    }

    /// Runs `statements` in one round trip (libpq pipeline mode): all are sent, then one sync,
    /// then every result is read. The server runs them in order; after one fails it skips the
    /// rest up to the sync, and the first failure is thrown. Inside a transaction a failure
    /// leaves it aborted, as a failed single statement would.
    func runPipeline(_ statements: [PostgresStatement]) throws -> [PostgresRows] {
        let handle = try liveHandle()
        // PQprepare is synchronous, so statements are prepared (once a session) before the
        // pipeline starts.
        // An unnamed statement is planned for its parameters, whatever the session caches.
        let deadline = answerTimeout.map { ContinuousClock.now + $0 }
        let names = try statements.map { statement in
            statement.plansEachRun && planning == .cachedKeyLookups
                ? nil : try preparedStatement(for: statement.sql, statement.parameters, on: handle, deadline: deadline)
        }
        guard PQenterPipelineMode(handle) == 1 else { throw abandon(handle) }
        for (statement, name) in zip(statements, names) {
            let sent = Self.withWireParameters(statement.parameters) { count, types, values, lengths, formats in
                if let name {
                    PQsendQueryPrepared(handle, name, count, values, lengths, formats, 0)
                } else {
                    PQsendQueryParams(handle, statement.sql, count, types, values, lengths, formats, 0)
                }
            }
            guard sent == 1 else { throw abandon(handle) }
        }
        guard PQpipelineSync(handle) == 1 else { throw abandon(handle) }

        var results = [PostgresRows]()
        results.reserveCapacity(statements.count)
        var firstFailure: PostgresError?
        for _ in statements {
            try awaitAnswer(handle, deadline: deadline)
            guard let result = PQgetResult(handle) else { throw abandon(handle) }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                results.append(Self.rows(of: result))
            case PGRES_PIPELINE_ABORTED:
                break  // skipped after an earlier failure
            default:
                guard PQstatus(handle) == CONNECTION_OK else { throw abandon(handle) }
                firstFailure = firstFailure ?? Self.serverError(result, handle: handle)
            }
            // Each statement's results end with a NULL.
            try awaitAnswer(handle, deadline: deadline)
            guard PQgetResult(handle) == nil else { throw abandon(handle) }
        }
        try awaitAnswer(handle, deadline: deadline)
        guard let sync = PQgetResult(handle) else { throw abandon(handle) }
        let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
        PQclear(sync)
        guard synced, PQexitPipelineMode(handle) == 1 else { throw abandon(handle) }
        if let firstFailure { throw firstFailure }
        return results
    }

    /// Drops a connection whose pipeline is in an unknown state (the next call reconnects) and
    /// returns the error to throw: whatever was sent may or may not have run.
    private func abandon(_ handle: OpaquePointer) -> PostgresError {
        let error = PostgresError(code: .connectionLost, message: Self.lastError(of: handle))
        PQfinish(handle)
        self.handle = nil
        return error
    }

    /// The parameters as libpq takes them (count, type OIDs, values, lengths, formats), valid
    /// for the duration of `body`.
    private static func withWireParameters<Result>(
        _ parameters: [PostgresValue],
        _ body: (Int32, UnsafePointer<Oid>?, UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Int32>?, UnsafePointer<Int32>?) -> Result
    ) -> Result {
        let count = parameters.count
        let types = parameters.map { $0.typeOID }
        let formats = parameters.map { Int32($0.isBinary ? 1 : 0) }
        var lengths = [Int32](repeating: 0, count: count)
        var buffers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
        defer { buffers.forEach { $0?.deallocate() } }
        for (index, parameter) in parameters.enumerated() {
            guard let bytes = parameter.wireBytes else { continue }
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
            bytes.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress!, byteCount: bytes.count)
            }
            buffer[bytes.count] = 0
            buffers[index] = buffer
            lengths[index] = Int32(bytes.count)
        }
        return buffers.withUnsafeBufferPointer { values in
            values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                body(Int32(count), types, values.baseAddress, lengths, formats)
            }
        }
    }

    /// The prepared statement to run `sql` with `parameters`; nil for one without parameters
    /// (BEGIN, COMMIT), which runs unnamed.
    private func preparedStatement(
        for sql: String, _ parameters: [PostgresValue], on handle: OpaquePointer, deadline: ContinuousClock.Instant?
    ) throws -> String? {
        guard !parameters.isEmpty else { return nil }
        return try preparedStatement(StatementKey(sql: sql, typeOIDs: parameters.map { $0.typeOID }), on: handle, deadline: deadline)
    }

    /// The name of `key`'s prepared statement, preparing it first; nil once the session holds
    /// the most it may (the statement then runs unnamed, parsed each time).
    private func preparedStatement(_ key: StatementKey, on handle: OpaquePointer, deadline: ContinuousClock.Instant?) throws -> String? {
        if let name = preparedStatements[key] { return name }
        guard preparedStatements.count < maxPreparedStatements else { return nil }
        let name = "ledger_\(preparedStatements.count + 1)"
        var types = key.typeOIDs
        guard PQsendPrepare(handle, name, key.sql, Int32(types.count), &types) == 1 else { throw abandon(handle) }
        _ = try consume(try lastResult(handle, deadline: deadline), handle: handle)
        preparedStatements[key] = name
        return name
    }

    /// Runs one or more statements without parameters (simple protocol), e.g. a migration file.
    func runScript(_ sql: String) throws {
        let handle = try liveHandle()
        _ = try consume(PQexec(handle, sql), handle: handle)
    }

    private func consume(_ result: OpaquePointer?, handle: OpaquePointer) throws -> PostgresRows {
        guard let result else {
            throw PostgresError(code: .connectionLost, message: Self.lastError(of: handle))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return Self.rows(of: result)
        default:
            if PQstatus(handle) != CONNECTION_OK {
                throw PostgresError(code: .connectionLost, message: Self.lastError(of: handle))
            }
            throw Self.serverError(result, handle: handle)
        }
    }

    private static func serverError(_ result: OpaquePointer, handle: OpaquePointer) -> PostgresError {
        PostgresError(
            code: .server,
            sqlState: field(result, "C").map(SQLState.init(rawValue:)),
            message: field(result, "M") ?? lastError(of: handle),
            constraint: field(result, "n"))
    }

    private static func rows(of result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns = [String]()
        var typeOIDs = [UInt32]()
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
            typeOIDs.append(PQftype(result, Int32(column)))
        }
        var values = [[String?]]()
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var rowValues = [String?]()
            rowValues.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    rowValues.append(nil)
                } else {
                    rowValues.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            values.append(rowValues)
        }
        let tag = String(cString: PQcmdStatus(result))
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(
            columns: columns, commandTag: tag, affectedRows: affected, values: values, typeOIDs: typeOIDs)
    }

    // MARK: LISTEN / NOTIFY

    func listen(_ channel: String) throws {
        _ = try run(sql: "LISTEN \(try quotedIdentifier(channel))", parameters: [])
        if !listenedChannels.contains(channel) { listenedChannels.append(channel) }
    }

    /// Returns the notifications that arrived, waiting up to `timeoutMs` for the first one.
    func notifications(timeoutMs: Int32) throws -> [PostgresNotification] {
        var received = drainNotifications()
        if !received.isEmpty { return received }
        let handle = try liveHandle()
        received = drainNotifications()  // a reconnect check may have read some
        guard received.isEmpty, SocketReadiness.isReadable(PQsocket(handle), timeoutMs: timeoutMs) else {
            return received
        }
        if PQconsumeInput(handle) == 0 || PQstatus(handle) != CONNECTION_OK {
            throw PostgresError(code: .connectionLost, message: Self.lastError(of: handle))
        }
        return drainNotifications()
    }

    private func drainNotifications() -> [PostgresNotification] {
        guard let handle else { return [] }
        var received = [PostgresNotification]()
        while let notify = PQnotifies(handle) {
            received.append(
                PostgresNotification(
                    channel: String(cString: notify.pointee.relname),
                    payload: String(cString: notify.pointee.extra),
                    backendPID: notify.pointee.be_pid))
            PQfreemem(notify)
        }
        return received
    }

    private func quotedIdentifier(_ identifier: String) throws -> String {
        let handle = try liveHandle()
        guard let escaped = PQescapeIdentifier(handle, identifier, identifier.utf8.count) else {
            throw PostgresError(code: .server, message: Self.lastError(of: handle))
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    // MARK: Helpers

    private static func field(_ result: OpaquePointer, _ code: Unicode.Scalar) -> String? {
        PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
    }

    /// libpq's last message for the connection. It names host and port but never the password.
    private static func lastError(of handle: OpaquePointer) -> String {
        String(cString: PQerrorMessage(handle)).trimmingCharacters(in: [" ", "\n"])
    }
}

private extension String {
    func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
