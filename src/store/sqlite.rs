//! The default store: one SQLite file, written and read through sqlx.
//!
//! Why it looks the way it does:
//!
//! - Every record table is keyed by (source, id) (costs by (source, position)); a sync replaces a
//!   source with one transaction that deletes the source's rows and inserts the new ones, then
//!   records the run, so a failure at any point leaves the file as it was.
//! - sqlx costs tens of microseconds per statement and microseconds per row fetched, so rows
//!   are written and read in batches: a batch of rows is one JSON array bound as a single
//!   parameter and expanded by SQLite itself (`INSERT ... SELECT ... FROM json_each(?)`;
//!   measured against multi-row `INSERT ... VALUES (?, ...), ...`, which was no faster), and
//!   read back as one JSON text per [`READ_CHUNK`] rows (`json_group_array`), parsed by
//!   serde_json.
//! - Daily usage (millions of rows) is kept as varint-packed binary, many accounts to a BLOB
//!   of about 1 MiB (`usage_chunks`), see [`super::usage_blob`] and
//!   `migrations/0002_usage_chunks.sql`; one row per account (schema 1's `usage_blobs`) cost a
//!   second per 100k accounts in sqlx's per-row overhead alone.
//! - Measured on the 100k-account demo data set (~0.6M record rows, 12.7M usage rows; release,
//!   2 vCPU, noisy, medians): a replace takes about 3.5-4.5 s (2-2.5 s for the record rows,
//!   ~0.5 s for usage, ~0.5 s for the commit's WAL checkpoint) and a load about 2.3-2.6 s
//!   (median of 5: 2.6 s, down from 3.1 s when the usage was decoded after the record tables,
//!   on this thread; it is now decoded on a blocking thread while the record tables are read),
//!   for a 145 MB file (it was 6.3 s, 3.5-5 s and 502 MB with one fixed-width blob per account
//!   and row-by-row reads).
//! - Pages are 64 KiB (fewer, larger pages for the big usage BLOBs).
//! - The file runs in WAL mode with `synchronous=NORMAL` (a crash may lose the last committed
//!   sync but never corrupts the file or half-applies one), foreign keys on and a busy timeout,
//!   so a reader (a chat command) and the syncing writer do not fail on each other.
//!
//! Loading merges every source into one [`Dataset`]: accounts by id (for each field the first
//! source in name order that has a value wins), children attached to the merged accounts, in a
//! deterministic order: accounts by id, children by (account, date, id, source).

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Row;

use super::{usage_blob, Store, StoreError, SyncOutcome, SyncRun};
use crate::model::{
    Account, AccountIx, Cost, Currency, Dataset, Renewal, RenewalOutcome, Subscription, SurveyKind,
    SurveyResponse, Ticket, Usage, YearMonth,
};

/// Rows per JSON batch when writing (a few MB of JSON; well under SQLite's length limit).
const WRITE_BATCH: usize = 20_000;
/// Bytes of usage per row of `usage_chunks` (a chunk ends with the account that crosses this).
const CHUNK_BYTES: usize = 1 << 20;

/// Bytes per database page (only applies when the file is created).
const PAGE_SIZE: u32 = 65_536;

/// The record tables, in the order they are cleared.
const TABLES: [&str; 8] = [
    "accounts",
    "subscriptions",
    "survey_responses",
    "tickets",
    "renewals",
    "costs",
    "usage_blobs",
    "usage_chunks",
];

/// A store in one SQLite file (or in memory, for tests and the demo).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn base_options() -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        .page_size(PAGE_SIZE)
        // 64 MiB of page cache per connection.
        .pragma("cache_size", "-65536")
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file (and its directory) on first use, and brings
    /// its schema up to date.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let options = base_options().filename(path).create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Self::migrated(pool).await
    }

    /// A fresh store that lives in memory and disappears with the value (and its clones).
    pub async fn open_in_memory() -> Result<SqliteStore, StoreError> {
        // One connection that is never closed: every connection to `:memory:` is its own database.
        let options = base_options()
            .filename(":memory:")
            .journal_mode(SqliteJournalMode::Memory);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        Self::migrated(pool).await
    }

    async fn migrated(pool: SqlitePool) -> Result<SqliteStore, StoreError> {
        sqlx::migrate!("src/store/migrations").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// The connection pool, for the store's other tables (see `super::alerts`).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (waiting for those in use); later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt(format!("\"{s}\" is not an RFC 3339 timestamp")))
}

/// `INSERT INTO table (source, c1, c2, ...) SELECT ?1, value->>0, value->>1, ... FROM json_each(?2)`
fn json_insert_sql(table: &str, columns: &[&str]) -> String {
    let fields: Vec<String> = (0..columns.len()).map(|i| format!("value->>{i}")).collect();
    format!(
        "INSERT INTO {table} (source, {}) SELECT ?1, {} FROM json_each(?2)",
        columns.join(", "),
        fields.join(", ")
    )
}

/// Appends one row, a JSON array of column values, to a batch.
fn json_row<T: Serialize>(buf: &mut Vec<u8>, row: &T) -> Result<(), StoreError> {
    serde_json::to_writer(buf, row)
        .map_err(|e| StoreError::Invalid(format!("cannot encode a row: {e}")))
}

/// Inserts one row per item, `row` writing each as a JSON array of the columns' values, in
/// batches of [`WRITE_BATCH`] rows.
async fn insert_json<S>(
    conn: &mut SqliteConnection,
    source: &str,
    table: &str,
    columns: &[&str],
    items: &[S],
    row: impl Fn(&mut Vec<u8>, &S) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let sql = json_insert_sql(table, columns);
    let build = |batch: &[S]| -> Result<String, StoreError> {
        let mut buf = Vec::with_capacity(batch.len() * 64);
        buf.push(b'[');
        for (k, item) in batch.iter().enumerate() {
            if k > 0 {
                buf.push(b',');
            }
            row(&mut buf, item)?;
        }
        buf.push(b']');
        String::from_utf8(buf).map_err(|e| StoreError::Invalid(format!("{table}: {e}")))
    };
    // SQLite inserts one batch (on sqlx's worker thread) while this thread encodes the next.
    let mut batches = items.chunks(WRITE_BATCH);
    let mut next = batches.next().map(build).transpose()?;
    while let Some(json) = next {
        let insert = sqlx::query(&sql)
            .bind(source)
            .bind(&json)
            .execute(&mut *conn);
        let encode = async { batches.next().map(build).transpose() };
        let (inserted, encoded) = futures_util::future::join(insert, encode).await;
        inserted?;
        next = encoded?;
    }
    Ok(())
}

/// The id of the account a child record points at, or an error for an index out of range.
fn account_id<'a>(data: &'a Dataset, ix: AccountIx, what: &str) -> Result<&'a str, StoreError> {
    data.accounts()
        .get(ix as usize)
        .map(|a| a.id.as_str())
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "{what} refers to account index {ix}, but there are only {} accounts",
                data.accounts().len()
            ))
        })
}

async fn insert_usage(
    conn: &mut SqliteConnection,
    source: &str,
    data: &Dataset,
) -> Result<(), StoreError> {
    let usage = &data.usage;
    if usage.is_empty() {
        return Ok(());
    }
    let n_accounts = data.accounts().len();
    // Rows of each account in date order. Sources usually produce them sorted already; else a
    // counting sort by account (linear) and a sort of each account's few rows by date.
    let sorted = usage
        .windows(2)
        .all(|w| (w[0].account, w[0].date) <= (w[1].account, w[1].date));
    let order: Vec<u32>;
    let rows: Vec<&Usage> = if sorted {
        usage.iter().collect()
    } else {
        let mut start = vec![0u32; n_accounts + 1];
        for u in usage {
            account_id(data, u.account, "a usage row")?;
            start[u.account as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut o = vec![0u32; usage.len()];
        for (i, u) in usage.iter().enumerate() {
            let slot = &mut next[u.account as usize];
            o[*slot as usize] = i as u32;
            *slot += 1;
        }
        for a in 0..n_accounts {
            let (s, e) = (start[a] as usize, start[a + 1] as usize);
            o[s..e].sort_by_key(|&i| usage[i as usize].date);
        }
        order = o;
        order.iter().map(|&i| &usage[i as usize]).collect()
    };

    // Each account's rows, as a range of `rows`; accounts are written in id order.
    let mut ranges: Vec<(AccountIx, usize, usize)> = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let account = rows[i].account;
        let mut j = i + 1;
        while j < rows.len() && rows[j].account == account {
            j += 1;
        }
        account_id(data, account, "a usage row")?;
        ranges.push((account, i, j));
        i = j;
    }
    ranges.sort_unstable_by_key(|&(a, _, _)| data.accounts()[a as usize].id.as_str());

    // The next chunk: (accounts, days, data), taking accounts from `ranges` until the data
    // reaches CHUNK_BYTES.
    let mut ranges = ranges.into_iter().peekable();
    let mut scratch = Vec::new();
    let mut fill = || {
        ranges.peek()?;
        let (mut accounts, mut days) = (0i64, 0i64);
        let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_BYTES + CHUNK_BYTES / 4);
        for (account, i, j) in ranges.by_ref() {
            let id = data.accounts()[account as usize].id.as_str();
            usage_blob::push_entry(&mut chunk, id, rows[i..j].iter().copied(), &mut scratch);
            accounts += 1;
            days += (j - i) as i64;
            if chunk.len() >= CHUNK_BYTES {
                break;
            }
        }
        Some((accounts, days, chunk))
    };
    // SQLite inserts one chunk while this thread encodes the next.
    let mut next = fill();
    let mut seq = 0i64;
    while let Some((accounts, days, chunk)) = next {
        let insert = sqlx::query(
            "INSERT INTO usage_chunks (source, seq, accounts, days, data) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(source)
        .bind(seq)
        .bind(accounts)
        .bind(days)
        .bind(&chunk)
        .execute(&mut *conn);
        let (inserted, filled) = futures_util::future::join(insert, async { fill() }).await;
        inserted?;
        next = filled;
        seq += 1;
    }
    Ok(())
}

async fn write_source(
    conn: &mut SqliteConnection,
    source: &str,
    data: &Dataset,
) -> Result<(), StoreError> {
    for table in TABLES {
        sqlx::query(&format!("DELETE FROM {table} WHERE source = ?1"))
            .bind(source)
            .execute(&mut *conn)
            .await?;
    }

    insert_json(
        conn,
        source,
        "accounts",
        &[
            "id",
            "name",
            "owner",
            "segment",
            "plan",
            "created_at",
            "renewal_date",
            "licensed_seats",
            "first_value_at",
            "trial_started_at",
            "trial_ended_at",
            "converted_at",
            "custom",
        ],
        data.accounts(),
        |buf, a| {
            json_row(
                buf,
                &(
                    &a.id,
                    &a.name,
                    &a.owner,
                    &a.segment,
                    &a.plan,
                    &a.created_at,
                    &a.renewal_date,
                    &a.licensed_seats,
                    &a.first_value_at,
                    &a.trial_started_at,
                    &a.trial_ended_at,
                    &a.converted_at,
                    &a.custom,
                ),
            )
        },
    )
    .await?;

    insert_json(
        conn,
        source,
        "subscriptions",
        &[
            "id",
            "account_id",
            "mrr",
            "currency",
            "start_date",
            "end_date",
        ],
        &data.subscriptions,
        |buf, s| {
            json_row(
                buf,
                &(
                    &s.id,
                    account_id(data, s.account, "a subscription")?,
                    &s.mrr,
                    s.currency.as_str(),
                    &s.start_date,
                    &s.end_date,
                ),
            )
        },
    )
    .await?;

    insert_json(
        conn,
        source,
        "survey_responses",
        &[
            "id",
            "account_id",
            "kind",
            "score",
            "submitted_at",
            "comment",
        ],
        &data.survey_responses,
        |buf, r| {
            json_row(
                buf,
                &(
                    &r.id,
                    account_id(data, r.account, "a survey response")?,
                    r.kind.as_str(),
                    r.score,
                    &r.submitted_at,
                    &r.comment,
                ),
            )
        },
    )
    .await?;

    insert_json(
        conn,
        source,
        "tickets",
        &[
            "id",
            "account_id",
            "opened_at",
            "resolved_at",
            "first_response_at",
            "contacts",
        ],
        &data.tickets,
        |buf, t| {
            json_row(
                buf,
                &(
                    &t.id,
                    account_id(data, t.account, "a ticket")?,
                    &t.opened_at,
                    &t.resolved_at,
                    &t.first_response_at,
                    &t.contacts,
                ),
            )
        },
    )
    .await?;

    insert_json(
        conn,
        source,
        "renewals",
        &["id", "account_id", "due_date", "outcome", "amount"],
        &data.renewals,
        |buf, r| {
            json_row(
                buf,
                &(
                    &r.id,
                    account_id(data, r.account, "a renewal")?,
                    &r.due_date,
                    r.outcome.as_str(),
                    &r.amount,
                ),
            )
        },
    )
    .await?;

    let costs: Vec<(usize, &Cost)> = data.costs.iter().enumerate().collect();
    insert_json(
        conn,
        source,
        "costs",
        &["seq", "month", "amount"],
        &costs,
        |buf, (i, c)| json_row(buf, &(i, c.month.to_string(), &c.amount)),
    )
    .await?;

    insert_usage(conn, source, data).await
}

async fn insert_run(conn: &mut SqliteConnection, run: &SyncRun) -> Result<(), StoreError> {
    let (outcome, error) = match &run.outcome {
        SyncOutcome::Ok => ("ok", None),
        SyncOutcome::Failed(e) => ("failed", Some(e.as_str())),
    };
    sqlx::query(
        "INSERT INTO sync_runs (source, started_at, finished_at, rows, accounts, outcome, error, \
         full) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .bind(&run.source)
    .bind(timestamp(run.started_at))
    .bind(timestamp(run.finished_at))
    .bind(i64::try_from(run.rows).unwrap_or(i64::MAX))
    .bind(i64::try_from(run.accounts).unwrap_or(i64::MAX))
    .bind(outcome)
    .bind(error)
    .bind(run.full)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The columns [`sync_run`] reads, as a `SELECT ... FROM sync_runs`.
const RUN_COLUMNS: &str =
    "SELECT source, started_at, finished_at, rows, accounts, outcome, error, full FROM sync_runs";

fn sync_run(r: &sqlx::sqlite::SqliteRow) -> Result<SyncRun, StoreError> {
    let outcome: &str = r.try_get(5)?;
    let count = |i: usize| -> Result<u64, StoreError> {
        let n: i64 = r.try_get(i)?;
        u64::try_from(n).map_err(|_| corrupt("sync_runs", format!("count {n}")))
    };
    Ok(SyncRun {
        source: r.try_get(0)?,
        started_at: parse_timestamp(r.try_get(1)?)?,
        finished_at: parse_timestamp(r.try_get(2)?)?,
        rows: count(3)?,
        accounts: count(4)?,
        full: r.try_get(7)?,
        outcome: match outcome {
            "ok" => SyncOutcome::Ok,
            _ => SyncOutcome::Failed(r.try_get::<Option<String>, _>(6)?.unwrap_or_default()),
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Reading

fn corrupt(table: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{table}: {what}"))
}

/// `YYYY-MM-DD`, parsed without chrono's general-purpose parser (millions of calls per load).
fn parse_date(table: &str, s: &str) -> Result<NaiveDate, StoreError> {
    let b = s.as_bytes();
    let fast = if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let num = |r: std::ops::Range<usize>| {
            b[r].iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        match (num(0..4), num(5..7), num(8..10)) {
            (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m, d),
            _ => None,
        }
    } else {
        None
    };
    fast.or_else(|| NaiveDate::from_str(s).ok())
        .ok_or_else(|| corrupt(table, format!("\"{s}\" is not a date")))
}

fn parse_opt_date(table: &str, s: Option<&str>) -> Result<Option<NaiveDate>, StoreError> {
    s.map(|s| parse_date(table, s)).transpose()
}

fn parse_decimal(table: &str, s: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(s).map_err(|_| corrupt(table, format!("\"{s}\" is not a decimal number")))
}

fn parse_count(table: &str, n: Option<i64>) -> Result<Option<u32>, StoreError> {
    n.map(|n| u32::try_from(n).map_err(|_| corrupt(table, format!("{n} is not a count"))))
        .transpose()
}

/// Merges account records of one id from several sources (in source name order): the first
/// non-empty value of each field wins.
fn merge_account(into: &mut Account, other: Account) {
    fn fill<T>(a: &mut Option<T>, b: Option<T>, empty: impl Fn(&T) -> bool) {
        if a.as_ref().is_none_or(&empty) && b.as_ref().is_some_and(|v| !empty(v)) {
            *a = b;
        }
    }
    let no_text = |s: &String| s.is_empty();
    let never = |_: &NaiveDate| false;
    if into.name.is_empty() {
        into.name = other.name;
    }
    fill(&mut into.owner, other.owner, no_text);
    fill(&mut into.segment, other.segment, no_text);
    fill(&mut into.plan, other.plan, no_text);
    fill(&mut into.created_at, other.created_at, never);
    fill(&mut into.renewal_date, other.renewal_date, never);
    fill(&mut into.licensed_seats, other.licensed_seats, |_| false);
    fill(&mut into.first_value_at, other.first_value_at, never);
    fill(&mut into.trial_started_at, other.trial_started_at, never);
    fill(&mut into.trial_ended_at, other.trial_ended_at, never);
    fill(&mut into.converted_at, other.converted_at, never);
    for (k, v) in other.custom {
        let slot = into.custom.entry(k).or_default();
        if slot.is_empty() {
            *slot = v;
        }
    }
}

/// Rows per query when reading a record table.
const READ_CHUNK: usize = 50_000;

/// Reads every row of a record table as JSON arrays `[source, id, <columns>...]`, one query per
/// [`READ_CHUNK`] rows in (source, id) order (sqlx costs microseconds per row fetched; a JSON
/// text per chunk costs SQLite and serde_json far less), and turns each into a record.
async fn load_rows<R, T>(
    conn: &mut SqliteConnection,
    only: Option<&str>,
    table: &str,
    columns: &str,
    mut record: impl FnMut(R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError>
where
    R: serde::de::DeserializeOwned + KeyedRow,
{
    let select = |filter: &str| {
        format!(
            "SELECT count(*), json_group_array(json_array(source, id, {columns})) FROM \
             (SELECT * FROM {table} {filter} ORDER BY source, id LIMIT {READ_CHUNK})"
        )
    };
    let (first, next) = (
        select("WHERE ?1 IS NULL OR source = ?1"),
        select("WHERE (?3 IS NULL OR source = ?3) AND (source, id) > (?1, ?2)"),
    );
    let mut out = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let query = match &after {
            None => sqlx::query_as(&first).bind(only),
            Some((source, id)) => sqlx::query_as(&next).bind(source).bind(id).bind(only),
        };
        let (count, json): (i64, String) = query.fetch_one(&mut *conn).await?;
        let rows: Vec<R> = serde_json::from_str(&json).map_err(|e| corrupt(table, e))?;
        let mut last: Option<(&str, &str)> = None;
        for r in &rows {
            last = last.max(Some(r.key()));
        }
        let last = last.map(|(s, i)| (s.to_string(), i.to_string()));
        for r in rows {
            out.push(record(r)?);
        }
        if count < READ_CHUNK as i64 || last.is_none() {
            return Ok(out);
        }
        after = last;
    }
}

/// A row read by [`load_rows`]: its (source, id) key comes first.
trait KeyedRow {
    fn key(&self) -> (&str, &str);
}

macro_rules! keyed_rows {
    ($($name:ident ( $($t:ty),* );)*) => {$(
        #[derive(serde::Deserialize)]
        struct $name(String, String, $($t),*);
        impl KeyedRow for $name {
            fn key(&self) -> (&str, &str) {
                (&self.0, &self.1)
            }
        }
    )*};
}

type Text = Option<String>;
keyed_rows! {
    AccountRow(String, Text, Text, Text, Text, Text, Option<i64>, Text, Text, Text, Text, String);
    SubscriptionRow(String, String, String, String, Text);
    SurveyRow(String, String, i64, String, Text);
    TicketRow(String, String, Text, Text, Option<i64>);
    RenewalRow(String, String, String, Text);
}

async fn load_accounts(
    conn: &mut SqliteConnection,
    only: Option<&str>,
) -> Result<Dataset, StoreError> {
    const T: &str = "accounts";
    let mut accounts = load_rows(
        conn,
        only,
        T,
        "name, owner, segment, plan, created_at, renewal_date, licensed_seats, first_value_at, \
         trial_started_at, trial_ended_at, converted_at, custom",
        |r: AccountRow| {
            let custom: BTreeMap<String, String> = serde_json::from_str(&r.13)
                .map_err(|e| corrupt(T, format!("custom fields of \"{}\": {e}", r.1)))?;
            let date = |s: &Text| parse_opt_date(T, s.as_deref());
            let account = Account {
                name: r.2,
                owner: r.3,
                segment: r.4,
                plan: r.5,
                created_at: date(&r.6)?,
                renewal_date: date(&r.7)?,
                licensed_seats: parse_count(T, r.8)?,
                first_value_at: date(&r.9)?,
                trial_started_at: date(&r.10)?,
                trial_ended_at: date(&r.11)?,
                converted_at: date(&r.12)?,
                custom,
                id: r.1,
            };
            Ok((r.0, account))
        },
    )
    .await?;
    // Rows come in (source, id) order; merging wants (id, source).
    accounts.sort_by(|a, b| a.1.id.cmp(&b.1.id).then_with(|| a.0.cmp(&b.0)));
    let mut merged: Vec<Account> = Vec::with_capacity(accounts.len());
    for (_, a) in accounts {
        match merged.last_mut() {
            Some(last) if last.id == a.id => merge_account(last, a),
            _ => merged.push(a),
        }
    }
    Dataset::new(merged).map_err(|e| corrupt(T, e))
}

fn ix_of(ds: &Dataset, table: &str, id: &str, account_id: &str) -> Result<AccountIx, StoreError> {
    ds.account_ix(account_id).ok_or_else(|| {
        corrupt(
            table,
            format!("record \"{id}\" refers to account \"{account_id}\", which is not stored"),
        )
    })
}

/// Sorts child records by (account, date, id); among equals the stored (source, id) order stays.
fn sort_children<T>(v: &mut [T], key: impl Fn(&T) -> (AccountIx, NaiveDate, &str)) {
    v.sort_by(|a, b| key(a).cmp(&key(b)));
}

async fn load_children(
    conn: &mut SqliteConnection,
    ds: &mut Dataset,
    only: Option<&str>,
) -> Result<(), StoreError> {
    const S: &str = "subscriptions";
    let mut subs = load_rows(
        conn,
        only,
        S,
        "account_id, mrr, currency, start_date, end_date",
        |r: SubscriptionRow| {
            Ok(Subscription {
                account: ix_of(ds, S, &r.1, &r.2)?,
                mrr: parse_decimal(S, &r.3)?,
                currency: Currency::from_str(&r.4).map_err(|e| corrupt(S, e))?,
                start_date: parse_date(S, &r.5)?,
                end_date: parse_opt_date(S, r.6.as_deref())?,
                id: r.1,
            })
        },
    )
    .await?;
    sort_children(&mut subs, |s| (s.account, s.start_date, &s.id));

    const V: &str = "survey_responses";
    let mut surveys = load_rows(
        conn,
        only,
        V,
        "account_id, kind, score, submitted_at, comment",
        |r: SurveyRow| {
            let (id, kind, score) = (r.1, r.3, r.4);
            Ok(SurveyResponse {
                account: ix_of(ds, V, &id, &r.2)?,
                kind: SurveyKind::from_str(&kind)
                    .map_err(|_| corrupt(V, format!("unknown kind \"{kind}\"")))?,
                score: u8::try_from(score)
                    .map_err(|_| corrupt(V, format!("score {score} of \"{id}\"")))?,
                submitted_at: parse_date(V, &r.5)?,
                comment: r.6,
                id,
            })
        },
    )
    .await?;
    sort_children(&mut surveys, |s| (s.account, s.submitted_at, &s.id));

    const K: &str = "tickets";
    let mut tickets = load_rows(
        conn,
        only,
        K,
        "account_id, opened_at, resolved_at, first_response_at, contacts",
        |r: TicketRow| {
            Ok(Ticket {
                account: ix_of(ds, K, &r.1, &r.2)?,
                opened_at: parse_date(K, &r.3)?,
                resolved_at: parse_opt_date(K, r.4.as_deref())?,
                first_response_at: parse_opt_date(K, r.5.as_deref())?,
                contacts: parse_count(K, r.6)?,
                id: r.1,
            })
        },
    )
    .await?;
    sort_children(&mut tickets, |t| (t.account, t.opened_at, &t.id));

    const R: &str = "renewals";
    let mut renewals = load_rows(
        conn,
        only,
        R,
        "account_id, due_date, outcome, amount",
        |r: RenewalRow| {
            let outcome = r.4;
            Ok(Renewal {
                account: ix_of(ds, R, &r.1, &r.2)?,
                due_date: parse_date(R, &r.3)?,
                outcome: RenewalOutcome::from_str(&outcome)
                    .map_err(|_| corrupt(R, format!("unknown outcome \"{outcome}\"")))?,
                amount: r.5.map(|a| parse_decimal(R, &a)).transpose()?,
                id: r.1,
            })
        },
    )
    .await?;
    sort_children(&mut renewals, |r| (r.account, r.due_date, &r.id));

    const C: &str = "costs";
    let mut costs: Vec<Cost> = Vec::new();
    let mut rows = sqlx::query(
        "SELECT month, amount FROM costs WHERE ?1 IS NULL OR source = ?1 \
         ORDER BY month, source, seq",
    )
    .bind(only)
    .fetch(&mut *conn);
    while let Some(r) = rows.try_next().await? {
        let month: &str = r.try_get(0)?;
        costs.push(Cost {
            month: YearMonth::from_str(month)
                .map_err(|_| corrupt(C, format!("\"{month}\" is not a month")))?,
            amount: parse_decimal(C, r.try_get(1)?)?,
        });
    }
    drop(rows);

    ds.subscriptions = subs;
    ds.survey_responses = surveys;
    ds.tickets = tickets;
    ds.renewals = renewals;
    ds.costs = costs;
    Ok(())
}

/// One stored piece of usage, as read from the database, for [`decode_usage`].
enum RawUsage {
    /// The next source's pieces follow.
    Source(String),
    /// A row of `usage_blobs`: one account's blob.
    Blob {
        account_id: String,
        days: i64,
        data: Vec<u8>,
    },
    /// A row of `usage_chunks`: many accounts' blobs.
    Chunk {
        seq: i64,
        accounts: i64,
        days: i64,
        data: Vec<u8>,
    },
}

/// The rows of one account's blob in the decoded usage, not yet attributed to an account.
struct UsageSpan {
    table: &'static str,
    account_id: String,
    /// The first span of a source.
    first: bool,
    end: usize,
}

/// What [`decode_usage`] made of the stored usage: every row (with account index 0), the spans
/// of rows that belong to each account, and the error that stopped decoding, if any.
struct DecodedUsage {
    usage: Vec<Usage>,
    spans: Vec<UsageSpan>,
    error: Option<UsageError>,
}

enum UsageError {
    /// A blob of this account failed to decode (unless the account is not stored, which is
    /// the error to report then).
    Blob {
        table: &'static str,
        account_id: String,
        message: String,
    },
    Other(StoreError),
}

/// Reads the usage of every source, from `usage_chunks` and what older versions left in
/// `usage_blobs`, and hands it to `send` piece by piece (for [`decode_usage`]).
async fn read_usage(
    conn: &mut SqliteConnection,
    send: &std::sync::mpsc::Sender<RawUsage>,
    only: Option<&str>,
) -> Result<(), StoreError> {
    let sources: Vec<String> = sqlx::query_scalar(
        "SELECT source FROM (SELECT source FROM usage_chunks UNION SELECT source FROM usage_blobs) \
         WHERE ?1 IS NULL OR source = ?1 ORDER BY source",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    // The decoder only stops early on an error, reported when it is joined: sending to it
    // cannot fail in a way that matters here.
    for source in sources {
        let mut rows = sqlx::query(
            "SELECT account_id, days, data FROM usage_blobs WHERE source = ?1 ORDER BY account_id",
        )
        .bind(&source)
        .fetch(&mut *conn);
        let _ = send.send(RawUsage::Source(source.clone()));
        while let Some(r) = rows.try_next().await? {
            let _ = send.send(RawUsage::Blob {
                account_id: r.try_get(0)?,
                days: r.try_get(1)?,
                data: r.try_get(2)?,
            });
        }
        drop(rows);

        let mut rows = sqlx::query(
            "SELECT seq, accounts, days, data FROM usage_chunks WHERE source = ?1 ORDER BY seq",
        )
        .bind(&source)
        .fetch(&mut *conn);
        while let Some(r) = rows.try_next().await? {
            let _ = send.send(RawUsage::Chunk {
                seq: r.try_get(0)?,
                accounts: r.try_get(1)?,
                days: r.try_get(2)?,
                data: r.try_get(3)?,
            });
        }
    }
    Ok(())
}

/// Decodes what [`read_usage`] sends, until the sender is dropped or an error; needs no
/// accounts (rows are attributed to them by [`attribute_usage`]), so that it can run on another
/// thread while the record tables are read.
fn decode_usage(capacity: usize, recv: std::sync::mpsc::Receiver<RawUsage>) -> DecodedUsage {
    const U: &str = "usage_chunks";
    const B: &str = "usage_blobs";
    let mut out = DecodedUsage {
        usage: Vec::with_capacity(capacity),
        spans: Vec::new(),
        error: None,
    };
    let mut source = String::new();
    let mut first = false;
    let blob = |out: &mut DecodedUsage, table, account_id: &str, blob: &[u8], first: bool| {
        match usage_blob::decode(blob, 0, &mut out.usage) {
            Ok(n) => {
                out.spans.push(UsageSpan {
                    table,
                    account_id: account_id.to_string(),
                    first,
                    end: out.usage.len(),
                });
                Some(n)
            }
            Err(e) => {
                out.error = Some(UsageError::Blob {
                    table,
                    account_id: account_id.to_string(),
                    message: e.to_string(),
                });
                None
            }
        }
    };
    for raw in recv {
        match raw {
            RawUsage::Source(s) => {
                source = s;
                first = true;
            }
            RawUsage::Blob {
                account_id,
                days,
                data,
            } => {
                let Some(n) = blob(&mut out, B, &account_id, &data, first) else {
                    return out;
                };
                first = false;
                if i64::try_from(n) != Ok(days) {
                    out.error = Some(UsageError::Other(corrupt(
                        B,
                        format!("usage of account \"{account_id}\" should hold {days} days"),
                    )));
                    return out;
                }
            }
            RawUsage::Chunk {
                seq,
                accounts: want_accounts,
                days: want_days,
                data,
            } => {
                let (mut accounts, mut days) = (0i64, 0i64);
                for entry in usage_blob::entries(&data) {
                    let (account_id, data) = match entry {
                        Ok(entry) => entry,
                        Err(e) => {
                            out.error = Some(UsageError::Other(corrupt(U, e)));
                            return out;
                        }
                    };
                    let Some(n) = blob(&mut out, U, account_id, data, first) else {
                        return out;
                    };
                    first = false;
                    accounts += 1;
                    days += n as i64;
                }
                if (accounts, days) != (want_accounts, want_days) {
                    out.error = Some(UsageError::Other(corrupt(
                        U,
                        format!(
                            "chunk {seq} of source \"{source}\" holds {accounts} accounts and \
                             {days} days, not {want_accounts} and {want_days}"
                        ),
                    )));
                    return out;
                }
            }
        }
    }
    out
}

fn not_stored(table: &str, account_id: &str) -> StoreError {
    corrupt(
        table,
        format!("usage of account \"{account_id}\", which is not stored"),
    )
}

/// Attributes decoded usage to the accounts of `ds` and reports the first problem in stored
/// order, as if each account had been looked up before its blob was decoded. A source's
/// accounts are stored in id order, which is the order of the merged accounts (both compare ids
/// byte by byte), so one source's rows come out sorted by (account, date); several sources are
/// merged by a stable sort.
fn attribute_usage(ds: &Dataset, decoded: DecodedUsage) -> Result<Vec<Usage>, StoreError> {
    let DecodedUsage {
        mut usage,
        spans,
        error,
    } = decoded;
    let (mut sources, mut sorted) = (0usize, true);
    let mut previous: Option<AccountIx> = None;
    let mut start = 0;
    for span in &spans {
        let ix = ds
            .account_ix(&span.account_id)
            .ok_or_else(|| not_stored(span.table, &span.account_id))?;
        if span.first {
            sources += 1;
            previous = None;
        }
        sorted &= previous.is_none_or(|p| p < ix);
        previous = Some(ix);
        for u in &mut usage[start..span.end] {
            u.account = ix;
        }
        start = span.end;
    }
    match error {
        None => {}
        Some(UsageError::Other(e)) => return Err(e),
        Some(UsageError::Blob {
            table,
            account_id,
            message,
        }) => {
            if ds.account_ix(&account_id).is_none() {
                return Err(not_stored(table, &account_id));
            }
            return Err(corrupt(
                table,
                format!("usage of account \"{account_id}\": {message}"),
            ));
        }
    }
    if sources > 1 || !sorted {
        usage.sort_by_key(|u| (u.account, u.date));
    }
    Ok(usage)
}

impl SqliteStore {
    /// Every stored record, or those of one source (`only`), merged into one data set.
    async fn load_records(&self, only: Option<&str>) -> Result<Dataset, StoreError> {
        // One read transaction: every table is read from the same snapshot, even while a sync
        // commits in between. The usage BLOBs are read first and decoded on a blocking thread
        // while the record tables are read and parsed on this one.
        let mut tx = self.pool.begin().await?;
        // Room for every usage row, but never more than the bytes stored could hold (a row takes
        // at least 5 bytes), whatever a damaged `days` says.
        let (days, bytes): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(days), 0), COALESCE(SUM(length(data)), 0) FROM \
             (SELECT days, data FROM usage_chunks UNION ALL SELECT days, data FROM usage_blobs)",
        )
        .fetch_one(&mut *tx)
        .await?;
        let capacity = usize::try_from(days.min(bytes / 5)).unwrap_or(0);
        let (send, recv) = std::sync::mpsc::channel();
        let decoder = tokio::task::spawn_blocking(move || decode_usage(capacity, recv));
        read_usage(&mut tx, &send, only).await?;
        drop(send);
        let mut ds = load_accounts(&mut tx, only).await?;
        load_children(&mut tx, &mut ds, only).await?;
        tx.commit().await?;
        let decoded = match decoder.await {
            Ok(decoded) => decoded,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("the usage decoder did not finish: {e}"),
        };
        ds.usage = attribute_usage(&ds, decoded)?;
        Ok(ds)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn replace_source(
        &self,
        source: &str,
        data: &Dataset,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        full: bool,
    ) -> Result<SyncRun, StoreError> {
        let run = SyncRun {
            source: source.to_string(),
            started_at,
            finished_at,
            rows: data.record_count() as u64,
            accounts: data.accounts().len() as u64,
            full,
            outcome: SyncOutcome::Ok,
        };
        // IMMEDIATE: take the write lock now (waiting up to the busy timeout) rather than fail
        // half-way when another writer holds it. Dropping `tx` on an error rolls back.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        write_source(&mut tx, source, data).await?;
        insert_run(&mut tx, &run).await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn record_failure(
        &self,
        source: &str,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        full: bool,
        error: &str,
    ) -> Result<SyncRun, StoreError> {
        let run = SyncRun {
            source: source.to_string(),
            started_at,
            finished_at,
            rows: 0,
            accounts: 0,
            full,
            outcome: SyncOutcome::Failed(error.to_string()),
        };
        let mut conn = self.pool.acquire().await?;
        insert_run(&mut conn, &run).await?;
        Ok(run)
    }

    async fn load(&self) -> Result<Dataset, StoreError> {
        self.load_records(None).await
    }

    async fn load_source(&self, source: &str) -> Result<Dataset, StoreError> {
        self.load_records(Some(source)).await
    }

    async fn last_good_run(
        &self,
        source: &str,
        full_only: bool,
    ) -> Result<Option<SyncRun>, StoreError> {
        let row = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE source = ?1 AND outcome = 'ok' AND (full = 1 OR NOT ?2) \
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(source)
        .bind(full_only)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(sync_run).transpose()
    }

    async fn sync_runs(
        &self,
        source: Option<&str>,
        limit: u32,
    ) -> Result<Vec<SyncRun>, StoreError> {
        let rows = sqlx::query(&format!(
            "{RUN_COLUMNS} WHERE ?1 IS NULL OR source = ?1 ORDER BY id DESC LIMIT ?2"
        ))
        .bind(source)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sync_run).collect()
    }
}
