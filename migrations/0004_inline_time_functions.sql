-- ledger_time and ledger_ms were declared IMMUTABLE around bodies that are only STABLE
-- (timestamptz arithmetic and extract), which keeps the planner from inlining them: every
-- call ran as a SQL function, its body parsed again for each statement (~5 % of the writer's
-- PostgreSQL CPU in a flash sale). Declared STABLE, they inline into the calling statement.
-- The values are the same: the interval is pure time, so no time zone enters.
CREATE OR REPLACE FUNCTION ledger_time(ms bigint) RETURNS timestamptz
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN timestamptz 'epoch' + ms * interval '1 millisecond';
CREATE OR REPLACE FUNCTION ledger_ms(t timestamptz) RETURNS bigint
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
    RETURN (extract(epoch FROM t) * 1000)::bigint;
