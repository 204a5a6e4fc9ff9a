-- cs-pulse store, schema 3: alert states, silences and acknowledgements, so that a restart
-- neither re-fires, nor forgets, nor misses a resolution (see src/alerts/lifecycle.rs and
-- src/store/alerts.rs).
--
-- Timestamps are TEXT RFC 3339 in UTC, like the rest of the store. They are compared in Rust
-- after parsing, never as strings in SQL (fractional seconds make the text vary in length).

-- One row per alert (rule, subject) that is not in the default state (inactive with no
-- history); a missing row means that default state. An acknowledgement is ack_by and ack_at
-- together.
CREATE TABLE alert_states (
    rule         TEXT NOT NULL,
    -- an account id, or 'portfolio' for portfolio-wide rules
    subject      TEXT NOT NULL,
    phase        TEXT NOT NULL CHECK (phase IN ('inactive', 'pending', 'firing', 'resolved')),
    active_since TEXT,
    fired_at     TEXT,
    notified_at  TEXT,
    resolved_at  TEXT,
    ack_by       TEXT,
    ack_at       TEXT,
    CHECK ((ack_by IS NULL) = (ack_at IS NULL)),
    PRIMARY KEY (rule, subject)
) STRICT, WITHOUT ROWID;

-- A silence mutes a rule (every subject when subject is NULL), a subject (every rule when rule
-- is NULL) or one rule for one subject, until a time. AUTOINCREMENT: the id of a removed
-- silence is never given to a new one, so "remove silence 7" cannot hit a later silence.
CREATE TABLE silences (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    rule       TEXT,
    subject    TEXT,
    until      TEXT NOT NULL,
    created_by TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
