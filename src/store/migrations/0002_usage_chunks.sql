-- cs-pulse store, schema 2: daily usage in chunks of many accounts.
--
-- Reading a row through sqlx costs microseconds, so one row per account (usage_blobs, about
-- 100k rows for a large data set) is itself too slow; a chunk row holds the usage of many
-- accounts of one source (about 1 MiB), see src/store/usage_blob.rs: per account, in account id
-- order, a varint-length-prefixed id and a varint-length-prefixed usage blob (format version 2:
-- varint-packed rows, a few bytes a day). `seq` numbers a source's chunks in that order;
-- `accounts` and `days` count the entries and rows of the chunk (checked when loading).
--
-- usage_blobs (schema 1, one row per account) is no longer written; a sync clears the source's
-- rows in it and loading still reads what is left there, so stores written before keep their
-- usage until their next sync.

CREATE TABLE usage_chunks (
    source   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    accounts INTEGER NOT NULL,
    days     INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (source, seq)
) STRICT;
