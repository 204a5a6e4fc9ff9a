-- cs-pulse store, schema 6: whether a sync run fetched everything (full = 1) or only what
-- changed since the previous good run (full = 0), so that the sync engine knows when the last
-- full sync was and runs the next one on time (src/sync.rs). Runs before this schema were all
-- full.
ALTER TABLE sync_runs ADD COLUMN full INTEGER NOT NULL DEFAULT 1 CHECK (full IN (0, 1));
