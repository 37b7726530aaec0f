import Ledger

/// Array results, for tests that read arrays back (the service binds arrays but reads none).
extension PostgresCell {
    /// A `text[]` value.
    public func stringArray() throws -> [String?] {
        guard let text, let elements = PostgresArrayLiteral.decode(text) else { throw PostgresArrayMismatch(column: column, text: text) }
        return elements
    }

    /// An `int8[]` value.
    public func int64Array() throws -> [Int64?] {
        try stringArray().map { element in
            guard let element else { return nil }
            guard let value = Int64(element) else { throw PostgresArrayMismatch(column: column, text: element) }
            return value
        }
    }
}

public struct PostgresArrayMismatch: Error {
    let column: String
    let text: String?
}
