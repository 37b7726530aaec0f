/// A fully read result set. The libpq result is cleared before this is returned, so rows
/// can travel between tasks freely.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public let columns: [String]
    /// The command tag, e.g. `INSERT 0 3` or `COMMIT`.
    public let commandTag: String
    /// Rows affected by INSERT/UPDATE/DELETE (from the command tag), 0 otherwise.
    public let affectedRows: Int
    let values: [[String?]]
    let typeOIDs: [UInt32]

    public var startIndex: Int { 0 }
    public var endIndex: Int { values.count }

    public subscript(position: Int) -> PostgresRow {
        PostgresRow(rows: self, index: position)
    }

    func columnIndex(_ name: String) -> Int? {
        columns.firstIndex(of: name)
    }
}

/// One row of a `PostgresRows`. Columns are read by position or by name.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let index: Int

    public subscript(column: Int) -> PostgresCell {
        precondition(column >= 0 && column < rows.columns.count, "column \(column) out of range")
        return PostgresCell(
            column: rows.columns[column], typeOID: rows.typeOIDs[column], text: rows.values[index][column])
    }

    public subscript(column: String) -> PostgresCell {
        guard let position = rows.columnIndex(column) else {
            preconditionFailure("no column named \(column)")
        }
        return self[position]
    }
}

/// A single result value in PostgreSQL's text form, decoded on demand into Swift types.
public struct PostgresCell: Sendable {
    public let column: String
    public let typeOID: UInt32
    /// The raw text form, nil for SQL NULL.
    public let text: String?

    public var isNull: Bool { text == nil }

    public func int64() throws -> Int64 {
        guard let value = Int64(try required()) else { throw mismatch("int8") }
        return value
    }

    public func int() throws -> Int {
        Int(try int64())
    }

    public func string() throws -> String {
        try required()
    }

    public func bool() throws -> Bool {
        switch try required() {
        case "t": return true
        case "f": return false
        default: throw mismatch("bool")
        }
    }

    /// bytea in the server's default `hex` output form (`\x0a1b…`).
    public func bytea() throws -> [UInt8] {
        let raw = try required()
        guard raw.hasPrefix("\\x"), let bytes = Hex.decode(raw.dropFirst(2)) else { throw mismatch("bytea") }
        return bytes
    }

    /// The value, or nil for SQL NULL, decoded with `decode`.
    public func optional<T>(_ decode: (PostgresCell) throws -> T) rethrows -> T? {
        isNull ? nil : try decode(self)
    }

    private func required() throws -> String {
        guard let text else {
            throw PostgresError(code: .decoding, message: "column \(column) is NULL")
        }
        return text
    }

    private func mismatch(_ type: String) -> PostgresError {
        PostgresError(code: .decoding, message: "column \(column) (type oid \(typeOID)) is not a valid \(type)")
    }
}

enum Hex {
    static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
