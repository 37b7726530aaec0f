/// An operating error from PostgreSQL or libpq. Descriptions never carry the connection URL
/// or its credentials.
public struct PostgresError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// Could not (re)connect to the server.
        case connectionFailed
        /// The connection broke while a statement was in flight; it may or may not have run.
        case connectionLost
        /// The server answered with an error; `sqlState` says which.
        case server
        /// A result value could not be read as the requested Swift type.
        case decoding
        /// The connection was closed by its owner.
        case closed
        /// Too many calls already wait for the connection; nothing was sent. Retry later.
        case overloaded
    }

    public let code: Code
    /// The SQLSTATE of `.server` errors.
    public let sqlState: SQLState?
    public let message: String
    /// Constraint name for integrity violations, when the server reports one.
    public let constraint: String?

    public init(code: Code, sqlState: SQLState? = nil, message: String, constraint: String? = nil) {
        self.code = code
        self.sqlState = sqlState
        self.message = message
        self.constraint = constraint
    }

    /// True when the same operation may succeed if tried again (after reconnecting or backing off).
    public var isRetriable: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .overloaded:
            return true
        case .decoding, .closed:
            return false
        case .server:
            guard let sqlState else { return false }
            // Conflicts, a lost connection, a server shutting down or crashed (57P0x), and
            // insufficient resources (too many connections, out of memory, disk full).
            return sqlState.isTransientConflict || sqlState.errorClass == SQLState.connectionExceptionClass
                || sqlState.rawValue.hasPrefix(SQLState.operatorInterventionClass + "P")
                || sqlState.errorClass == SQLState.insufficientResourcesClass
        }
    }

    public var isUniqueViolation: Bool { sqlState == .uniqueViolation }

    public var description: String {
        var text = "PostgreSQL \(code.rawValue)"
        if let sqlState { text += " [\(sqlState)]" }
        if let constraint { text += " (constraint \(constraint))" }
        return text + ": " + message
    }
}
