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

    /// BEGIN … COMMIT around `body`, ROLLBACK when it throws.
    public func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try query("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
        try Self.expectCommitted(try query("COMMIT"))
        return value
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
            _ = try? query("ROLLBACK TO SAVEPOINT item")
            throw error
        }
    }
}
