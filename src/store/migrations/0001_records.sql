-- cs-pulse store, schema 1: the canonical records of every source and the history of sync runs.
--
-- Every record table is keyed by its source first: a sync replaces all of one source's rows in
-- one transaction (delete, then insert), never touching another source's.
-- Money is TEXT holding the exact decimal string ("12.50"); dates are TEXT "YYYY-MM-DD";
-- timestamps are TEXT RFC 3339 in UTC. Child records name their account by its id string
-- (account_id), an account of the same source. There are deliberately no FOREIGN KEY
-- constraints on the record tables: checking one per row would double the cost of a sync of a
-- million rows, the data comes from one validated Dataset, and the store checks every reference
-- when it loads (a dangling one is reported as corrupt data).

CREATE TABLE accounts (
    source           TEXT NOT NULL,
    id               TEXT NOT NULL,
    name             TEXT NOT NULL,
    owner            TEXT,
    segment          TEXT,
    plan             TEXT,
    created_at       TEXT,
    renewal_date     TEXT,
    licensed_seats   INTEGER,
    first_value_at   TEXT,
    trial_started_at TEXT,
    trial_ended_at   TEXT,
    converted_at     TEXT,
    -- the source's extra columns, a JSON object of strings
    custom           TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (source, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE subscriptions (
    source     TEXT NOT NULL,
    id         TEXT NOT NULL,
    account_id TEXT NOT NULL,
    mrr        TEXT NOT NULL,
    currency   TEXT NOT NULL,
    start_date TEXT NOT NULL,
    end_date   TEXT,
    PRIMARY KEY (source, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE survey_responses (
    source       TEXT NOT NULL,
    id           TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('nps', 'csat', 'ces')),
    score        INTEGER NOT NULL,
    submitted_at TEXT NOT NULL,
    comment      TEXT,
    PRIMARY KEY (source, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE tickets (
    source            TEXT NOT NULL,
    id                TEXT NOT NULL,
    account_id        TEXT NOT NULL,
    opened_at         TEXT NOT NULL,
    resolved_at       TEXT,
    first_response_at TEXT,
    contacts          INTEGER,
    PRIMARY KEY (source, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE renewals (
    source     TEXT NOT NULL,
    id         TEXT NOT NULL,
    account_id TEXT NOT NULL,
    due_date   TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('renewed', 'churned', 'pending')),
    amount     TEXT,
    PRIMARY KEY (source, id)
) STRICT, WITHOUT ROWID;

-- Several cost rows per month are allowed (they are summed by the metrics), so a cost is keyed
-- by its position (seq) in the source's data.
CREATE TABLE costs (
    source TEXT NOT NULL,
    month  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    amount TEXT NOT NULL,
    PRIMARY KEY (source, seq)
) STRICT, WITHOUT ROWID;

-- Daily usage: one row per (source, account) holding all of that account's days in a compact
-- fixed-width binary BLOB, because a row per day (about 12 million for 100k accounts) is far
-- too slow to write and read through sqlx. Layout (little-endian), see src/store/usage_blob.rs:
--   byte 0: format version (1); then per day, sorted by date, 32 bytes:
--   date i32 days since 1970-01-01 | active_users u32 | sessions u32 |
--   minutes rust_decimal::Decimal::serialize() 16 bytes | features_used u32 (u32::MAX = empty)
-- `days` is the number of rows in the blob. A rowid table (not WITHOUT ROWID) because the rows
-- are large.
CREATE TABLE usage_blobs (
    source     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    days       INTEGER NOT NULL,
    data       BLOB NOT NULL,
    UNIQUE (source, account_id)
) STRICT;

CREATE TABLE sync_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    -- records written (0 for a failed run)
    rows        INTEGER NOT NULL,
    accounts    INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'failed')),
    error       TEXT
) STRICT;

CREATE INDEX sync_runs_by_source ON sync_runs (source, id);
