/// How a connection's server session plans the statements it prepares.
public enum StatementPlanning: Sendable {
    /// A plan for each execution, made for the parameters at hand (`force_custom_plan`): for
    /// connections whose queries depend on what the tables hold (readers, the relay, audits).
    /// A generic plan made while a fresh ledger's tables were empty stayed in use as they grew
    /// and tripled the writer's p50 at 10,000/s.
    case perExecution
    /// One plan per statement and session, made once without the parameters
    /// (`force_generic_plan`), with sequential scans, bitmap scans, hash and merge joins priced
    /// out so that the plan is index lookups whatever the tables held when it was made. For
    /// connections whose every statement finds its rows by key, like the writer's: planning was
    /// ~40 % of the writer's PostgreSQL time in a flash sale.
    case cachedIndexLookups

    /// The session settings, run on every (re)connect.
    var sessionSettings: [String] {
        switch self {
        case .perExecution:
            return ["SET plan_cache_mode = force_custom_plan"]
        case .cachedIndexLookups:
            return [
                "SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off", "SET enable_bitmapscan = off",
                "SET enable_hashjoin = off", "SET enable_mergejoin = off",
            ]
        }
    }
}
