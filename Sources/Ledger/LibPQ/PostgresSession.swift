/// Synchronous access to a connection, handed to closures that already run on the
/// connection's own thread (`withSession`, `transaction`). Do not let it escape the closure.
public struct PostgresSession {
    let connection: LibPQConnection

    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) throws -> PostgresRows {
        try connection.run(sql: sql, parameters: parameters)
    }

    /// Runs `statements` in order in one round trip and returns each one's rows. The first
    /// that fails is thrown; the server skips the ones after it.
    public func pipeline(_ statements: [PostgresStatement]) throws -> [PostgresRows] {
        try connection.runPipeline(statements)
    }

    /// Runs several `;`-separated statements without parameters (simple query protocol).
    public func runScript(_ sql: String) throws {
        try connection.runScript(sql)
    }

    /// BEGIN … COMMIT around `body`, ROLLBACK when it throws (`rollback(after:)`).
    public func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try query("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            rollback(after: error)
            throw error
        }
        try Self.expectCommitted(try query("COMMIT"))
        return value
    }

    /// Ends the transaction `error` left open or aborted. Not after a lost connection: the
    /// server ends that transaction itself, and a ROLLBACK would first reconnect (on a frozen
    /// server, a whole connect timeout more before the caller hears of the failure).
    public func rollback(after error: Error) {
        if !Self.lostTheConnection(error) { _ = try? query("ROLLBACK") }
    }

    private static func lostTheConnection(_ error: Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.code == .connectionLost || error.code == .connectionFailed
    }

    /// Throws unless `commit`, what a COMMIT returned, committed: COMMIT of an aborted
    /// transaction "succeeds" with the tag ROLLBACK.
    public static func expectCommitted(_ commit: PostgresRows) throws {
        guard commit.commandTag == "COMMIT" else {
            throw PostgresError(code: .server, sqlState: .transactionRollback, message: "transaction was rolled back")
        }
    }

    /// Runs `body` under a savepoint: its effects are undone if it throws, the transaction goes on.
    public func savepoint<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try query("SAVEPOINT item")
        do {
            let value = try body(self)
            try query("RELEASE SAVEPOINT item")
            return value
        } catch {
            if !Self.lostTheConnection(error) { _ = try? query("ROLLBACK TO SAVEPOINT item") }
            throw error
        }
    }
}
