-- Every node may run the relay; the one holding the relay's advisory lock publishes. Each
-- take-over bumps `epoch`, and every checkpoint write names the epoch it leads with, so a former
-- leader that paused past the end of its lock (GC, SIGSTOP, a partition) cannot move the
-- checkpoint any more: its writes match no row.
ALTER TABLE relay_checkpoints ADD COLUMN epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0);
