-- The relay's progress. It publishes the ledger to Kafka from `position` on and moves it only
-- over a contiguous prefix of delivered events (at-least-once, per-product order kept).
CREATE TABLE relay_checkpoints (
    relay      text        COLLATE "C" PRIMARY KEY,
    topic      text        NOT NULL,
    position   bigint      NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Per partition, the offset after the last message the relay saw delivered. A topic whose
-- high watermark is behind it was reset (deleted and recreated, a new dev broker): the relay
-- republishes from the start of the ledger.
CREATE TABLE relay_partition_offsets (
    relay       text   COLLATE "C" NOT NULL REFERENCES relay_checkpoints (relay) ON DELETE CASCADE,
    partition   int    NOT NULL CHECK (partition >= 0),
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (relay, partition)
);

-- Wakes tailers once per appending statement (delivered at commit, so never for a rolled-back
-- batch); they still poll, in case a notification is lost with a dropped connection.
CREATE FUNCTION ledger_notify_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ledger_events', '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_notify_append();
