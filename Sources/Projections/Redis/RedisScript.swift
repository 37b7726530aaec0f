/// A Lua script run with EVALSHA. Connections load it with SCRIPT LOAD on first use; a call
/// Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH) runs again as EVAL with the source.
public struct RedisScript: Sendable, Hashable {
    public let name: String
    public let source: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}

/// One EVALSHA: a script with its keys and arguments.
public struct RedisScriptCall: Sendable {
    public var script: RedisScript
    public var keys: [RedisArgument]
    public var arguments: [RedisArgument]

    public init(_ script: RedisScript, keys: [RedisArgument], arguments: [RedisArgument]) {
        self.script = script
        self.keys = keys
        self.arguments = arguments
    }
}
