/// An operating error from Redis or hiredis. Descriptions never carry the password.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case connectionFailed
        /// The connection broke with a command in flight; it may or may not have run.
        case connectionLost
        /// Redis answered with an error reply (`ERR …`, `NOSCRIPT …`, `BUSY …`).
        case server
        /// A reply did not have the shape the caller expected.
        case unexpectedReply
        case invalidURL
        case closed
        /// Too many calls are waiting for a connection; back off and retry.
        case overloaded
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var isRetriable: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .overloaded:
            return true
        case .server:
            // Transient server states: script running, loading the dataset, cluster resharding.
            return ["BUSY", "LOADING", "TRYAGAIN", "MASTERDOWN"].contains { message.hasPrefix($0) }
        case .unexpectedReply, .invalidURL, .closed:
            return false
        }
    }

    public var description: String { "Redis \(code.rawValue): \(message)" }
}
