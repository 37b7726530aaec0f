/// A PostgreSQL error code (SQLSTATE): five characters, the first two its class. The codes the
/// service interprets are named here, once.
public struct SQLState: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    /// The class: the first two characters (`22` data exception, `23` integrity, …).
    public var errorClass: String { String(rawValue.prefix(2)) }
    public var description: String { rawValue }

    public static let uniqueViolation: SQLState = "23505"
    public static let foreignKeyViolation: SQLState = "23503"
    public static let checkViolation: SQLState = "23514"
    public static let transactionRollback: SQLState = "40000"
    public static let serializationFailure: SQLState = "40001"
    public static let deadlockDetected: SQLState = "40P01"
    /// Raised by the ledger's own `ledger_expect_rows` (migrations) when a guard table disagreed
    /// with the batch's decisions: a concurrent writer won a race the row locks could not cover.
    public static let ledgerGuardMismatch: SQLState = "LG001"

    /// Classes: a value the data itself makes impossible, a program limit (an index entry too
    /// large), a lost connection, an operator's shutdown, resources the server ran out of.
    public static let dataExceptionClass = "22"
    public static let programLimitClass = "54"
    public static let connectionExceptionClass = "08"
    public static let operatorInterventionClass = "57"
    public static let insufficientResourcesClass = "53"

    /// A deadlock or serialization failure: the transaction left nothing behind and may run again.
    public var isTransientConflict: Bool { self == .serializationFailure || self == .deadlockDetected }

    /// The data of a command was refused (class 22 or 54): retrying it cannot succeed.
    public var isDataRefusal: Bool { errorClass == Self.dataExceptionClass || errorClass == Self.programLimitClass }
}
