/// Why the relay did not publish or save: another node's relay leads.
public struct RelayError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        /// Another session holds the relay lock; this relay stands by.
        case notLeader
        /// A checkpoint write found a newer epoch: another relay took over meanwhile.
        case fenced
    }

    public let code: Code
    public let message: String
    /// Leadership changes hands: a later round may lead again.
    public var isRetriable: Bool { true }
    public var description: String { "relay \(code.rawValue): \(message)" }
}
