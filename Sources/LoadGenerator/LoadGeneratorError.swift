/// Why the load generator could not do what it was asked (a server's answers are outcomes, not errors).
public struct LoadGeneratorError: Error, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The URL is not `http://host[:port]`.
        case badURL = "bad-url"
        /// The connection closed before the answer came.
        case connectionClosed = "connection-closed"
        /// No answer came within the request's timeout.
        case timedOut = "timed-out"
        /// A command that begins or ends a chaos fault failed.
        case faultCommandFailed = "fault-command-failed"
        /// A program could not be started.
        case spawnFailed = "spawn-failed"
    }

    public let code: Code
    public let detail: String
    /// Trying again may help: the server may come back.
    public var isRetriable: Bool { code == .connectionClosed || code == .timedOut }
    public var description: String { "\(code.rawValue): \(detail)" }
}
