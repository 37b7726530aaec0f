/// A RESP2 reply. Error replies inside a pipeline stay values (`.error`) so one failed
/// command does not hide the replies of the others.
public enum RedisReply: Sendable, Hashable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([RedisReply])

    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        if case .bulk(let bytes) = self { return Int64(String(decoding: bytes, as: UTF8.self)) }
        return nil
    }

    /// Text of a bulk or status reply.
    public var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    public var array: [RedisReply]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// The reply, or a thrown `.server` error for an error reply.
    public func orThrow() throws -> RedisReply {
        if case .error(let message) = self { throw RedisError(code: .server, message: message) }
        return self
    }
}
