import Ledger

/// One binary-safe command argument.
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    /// Written as decimal bytes directly: `String(value)` goes through the generic integer description.
    public init<I: BinaryInteger>(_ value: I) {
        if let value = Int64(exactly: value) { self.bytes = .decimal(value) } else { self.bytes = Array(String(value).utf8) }
    }
    public init(stringLiteral value: String) { self.init(value) }
    public init(integerLiteral value: Int64) { self.init(value) }
}
