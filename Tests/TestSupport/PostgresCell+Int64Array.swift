import Ledger

extension PostgresCell {
    /// An `int8[]` value, for tests that read arrays back (the service reads none).
    public func int64Array() throws -> [Int64?] {
        try stringArray().map { element in
            guard let element else { return nil }
            guard let value = Int64(element) else { throw PostgresArrayNotIntegers(element: element) }
            return value
        }
    }
}

public struct PostgresArrayNotIntegers: Error {
    let element: String
}
