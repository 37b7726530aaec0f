/// An operating error of the ledger writer (not a rejection: the command was not decided).
public struct LedgerError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// The writer's queue is full; back off and retry.
        case overloaded
        /// PostgreSQL could not be reached or the connection broke. For a command in a batch
        /// whose COMMIT was in flight the outcome is unknown: retry with the same idempotency key.
        case unavailable
        /// The writer is shutting down and takes no new commands.
        case shuttingDown
        /// The database refused the batch for a reason that retrying will not fix.
        case storage
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var isRetriable: Bool { code == .overloaded || code == .unavailable }
    public var description: String { "ledger \(code.rawValue): \(detail)" }
}
