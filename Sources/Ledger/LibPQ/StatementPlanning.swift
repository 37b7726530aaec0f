/// How a connection's server session plans the statements it prepares.
public enum StatementPlanning: Sendable {
    /// A plan for each run, made for the parameters at hand (`force_custom_plan`): for
    /// connections whose queries depend on what the tables hold (readers, the relay, audits).
    case perRun
    /// One plan per prepared statement and session, made once without the parameters
    /// (`force_generic_plan`), for the writer: planning its batch statements anew was a large
    /// share of its PostgreSQL time. Sequential and bitmap scans, hash and merge joins are priced out;
    /// with the statements written so that the join order is fixed (an array drives a lateral
    /// key lookup), the only plan left is index lookups, whatever the tables held when it was
    /// made — a generic plan made on a fresh, vacuumed ledger once scanned a whole index that
    /// grew with the sale. A statement whose best plan does depend on the data says so
    /// (`PostgresStatement.plansEachRun`) and is planned per run here too.
    case cachedKeyLookups

    /// The session settings, run on every (re)connect.
    var sessionSettings: [String] {
        switch self {
        case .perRun:
            return ["SET plan_cache_mode = force_custom_plan"]
        case .cachedKeyLookups:
            return [
                "SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off", "SET enable_bitmapscan = off",
                "SET enable_hashjoin = off", "SET enable_mergejoin = off",
            ]
        }
    }
}
