-- cs-pulse store, schema 4: the durable outbox. Every message is stored here before it is sent
-- and marked when the platform confirms it, so that a crash or restart loses nothing and posts
-- nothing twice (see src/notify/outbox.rs and src/store/outbox.rs).

-- One row per message to one channel. `dedup` says what the message is (an alert event of one
-- evaluation, a scorecard of one period, an edit): inserting the same `dedup` twice is a no-op,
-- which makes "post the weekly scorecard" idempotent across restarts. `key` is the random
-- idempotency key handed to the platform (Discord's nonce, webhooks' delivery header).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup           TEXT NOT NULL UNIQUE,
    key             TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    -- 'post' a new message, or 'edit' the message of row `target` (a resolved alert)
    op              TEXT NOT NULL CHECK (op IN ('post', 'edit')),
    target          INTEGER REFERENCES outbox (id),
    -- the channel-neutral message, JSON (src/notify/message.rs)
    message         TEXT NOT NULL,
    -- for an edit: what to post instead when the original cannot be edited
    fallback        TEXT,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    -- JSON array of the platform's ids for what was posted (one per part of a split message)
    delivery_ids    TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    CHECK ((op = 'edit') = (target IS NOT NULL))
) STRICT;

CREATE INDEX outbox_pending ON outbox (status, id);

-- Which message announced each firing alert on each channel, so that its resolution can edit
-- that message. `line` is the subject's line in the message (NULL when it was in "and N more").
CREATE TABLE alert_posts (
    rule      TEXT NOT NULL,
    subject   TEXT NOT NULL,
    channel   TEXT NOT NULL,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id),
    line      INTEGER,
    resolved  INTEGER NOT NULL DEFAULT 0 CHECK (resolved IN (0, 1)),
    PRIMARY KEY (rule, subject, channel)
) STRICT;

CREATE INDEX alert_posts_message ON alert_posts (outbox_id);
