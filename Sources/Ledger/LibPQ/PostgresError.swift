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
    /// The five-character SQLSTATE for `.server` errors (e.g. `23505` unique violation).
    public let sqlState: String?
    public let message: String
    /// Constraint name for integrity violations, when the server reports one.
    public let constraint: String?

    public init(code: Code, sqlState: String? = nil, message: String, constraint: String? = nil) {
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
            // 40001 serialization failure, 40P01 deadlock, 08* connection, 57P0x shutdown/crash,
            // 53* insufficient resources (too many connections, out of memory, disk full).
            return sqlState == "40001" || sqlState == "40P01" || sqlState.hasPrefix("08")
                || sqlState.hasPrefix("57P") || sqlState.hasPrefix("53")
        }
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }

    public var description: String {
        var text = "PostgreSQL \(code.rawValue)"
        if let sqlState { text += " [\(sqlState)]" }
        if let constraint { text += " (constraint \(constraint))" }
        return text + ": " + message
    }
}
