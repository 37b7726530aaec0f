/// A Lua script run with EVALSHA. Connections load it with SCRIPT LOAD on first use and again
/// whenever Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH).
public struct RedisScript: Sendable, Hashable {
    public let name: String
    public let source: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}
