-- cs-pulse store, schema 5: the runs of scheduled jobs (src/scheduler, src/store/jobs.rs), so
-- that a restart knows which scheduled time each job last ran for and can make up a missed one.
-- (Schema 4 is the notification outbox.)
--
-- Timestamps are TEXT RFC 3339 in UTC, like the rest of the store, compared in Rust after
-- parsing, never as strings in SQL.

-- One row per run, written when it starts (finished_at and outcome NULL) and completed when it
-- ends; a row left unfinished is a run cut short by a crash. message is the error of a failed run.
CREATE TABLE job_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    outcome       TEXT CHECK (outcome IN ('ok', 'failed')),
    message       TEXT,
    CHECK ((finished_at IS NULL) = (outcome IS NULL)),
    CHECK ((outcome = 'failed') = (message IS NOT NULL))
) STRICT;

CREATE INDEX job_runs_by_job ON job_runs (job, id);
