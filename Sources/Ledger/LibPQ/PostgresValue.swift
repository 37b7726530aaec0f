/// A bind parameter. SQL never embeds values: every value travels as a parameter.
public enum PostgresValue: Sendable, Hashable {
    case null
    case text(String)
    case int64(Int64)
    case bool(Bool)
    case bytea([UInt8])
    case int64Array([Int64?])
    case textArray([String?])
    case jsonb(String)

    /// The type OID sent with the parameter, so `SELECT $1` knows what it gets.
    var typeOID: UInt32 {
        switch self {
        case .null: return 0
        case .text: return 25
        case .int64: return 20
        case .bool: return 16
        case .bytea: return 17
        case .int64Array: return 1016
        case .textArray: return 1009
        case .jsonb: return 3802
        }
    }

    /// bytea and arrays go in binary form; everything else in PostgreSQL's text form.
    var isBinary: Bool {
        switch self {
        case .bytea, .int64Array, .textArray: return true
        case .null, .text, .int64, .bool, .jsonb: return false
        }
    }

    /// The wire bytes of the parameter, or nil for SQL NULL.
    var wireBytes: [UInt8]? {
        switch self {
        case .null: return nil
        case .text(let value), .jsonb(let value): return Array(value.utf8)
        case .int64(let value): return Array(String(value).utf8)
        case .bool(let value): return value ? [UInt8(ascii: "t")] : [UInt8(ascii: "f")]
        case .bytea(let value): return value
        case .int64Array(let values): return PostgresBinaryArray.encode(values)
        case .textArray(let values): return PostgresBinaryArray.encode(values)
        }
    }
}

extension PostgresValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(nilLiteral: ()) { self = .null }
}
