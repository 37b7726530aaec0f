/// Why the load generator could not do what it was asked (a server's answers are outcomes, not errors).
public struct LoadGeneratorError: Error, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The URL is not `http://host[:port]`.
        case badURL = "bad-url"
        /// The connection closed before the answer came.
        case connectionClosed = "connection-closed"
    }

    public let code: Code
    public let detail: String
    /// Trying again may help: the server may come back.
    public var isRetriable: Bool { code == .connectionClosed }
    public var description: String { "\(code.rawValue): \(detail)" }
}
