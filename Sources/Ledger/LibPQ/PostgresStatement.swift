/// One statement of a pipeline: SQL with `$n` placeholders and its bind parameters.
public struct PostgresStatement: Sendable {
    public let sql: String
    public let parameters: [PostgresValue]

    public init(_ sql: String, _ parameters: [PostgresValue] = []) {
        self.sql = sql
        self.parameters = parameters
    }
}
