/// One statement of a pipeline: SQL with `$n` placeholders and its bind parameters.
public struct PostgresStatement: Sendable {
    public let sql: String
    public let parameters: [PostgresValue]
    /// Planned for each run's parameters even on a connection that caches plans
    /// (`StatementPlanning.cachedKeyLookups`): for a statement whose best plan depends on how
    /// many rows its arrays and tables hold, such as an UPDATE joined with an array.
    public let plansEachRun: Bool

    public init(_ sql: String, _ parameters: [PostgresValue] = [], plansEachRun: Bool = false) {
        self.sql = sql
        self.parameters = parameters
        self.plansEachRun = plansEachRun
    }
}
