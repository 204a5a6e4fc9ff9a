//! The outbox's tables (migration 0004): messages stored before they are sent, their delivery
//! status, and which message announced each firing alert so that its resolution can edit it.
//!
//! [`OutboxStore::enqueue`] writes an evaluation's alert states and its messages in one
//! transaction: after a crash either both are stored or neither, so an alert is never advanced
//! without its message, nor announced twice.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use rand::Rng;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::alerts::{column, parse_timestamp, timestamp, write_alert_states};
use super::{AlertKey, SqliteStore, StoreError};
use crate::alerts::{AlertState, Event};
use crate::notify::outbox::{mark_resolved, restrict, AlertPost, Op, OutboxRow, Outgoing, Status};
use crate::notify::Message;

/// What [`OutboxStore::enqueue`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enqueued {
    /// New rows to send (posts and edits).
    pub queued: usize,
    /// Messages already in the outbox under the same `dedup` (a repeated scorecard period).
    pub duplicates: usize,
    /// Resolutions folded into an original message that had not been sent yet.
    pub folded: usize,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Stores `states` and `items` in one transaction. Items whose `dedup` is already stored are
    /// skipped. A resolution on a channel that can edit becomes an edit of the message that
    /// announced the alert (or changes that message in place if it is still unsent).
    async fn enqueue(
        &self,
        states: &[(AlertKey, AlertState)],
        items: &[Outgoing],
        now: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError>;

    /// Every pending row, oldest first.
    async fn pending(&self) -> Result<Vec<OutboxRow>, StoreError>;

    /// One row by id.
    async fn outbox_row(&self, id: i64) -> Result<Option<OutboxRow>, StoreError>;

    /// Rows with one of `statuses` (all rows when empty), oldest first.
    async fn outbox_rows(&self, statuses: &[Status]) -> Result<Vec<OutboxRow>, StoreError>;

    /// The platform confirmed the row: record its ids.
    async fn mark_sent(
        &self,
        id: i64,
        delivery_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// A failed attempt: count it and either try again at `retry_at` or give up (`None`).
    async fn mark_attempt(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// Makes failed rows (`ids`, or all when empty) pending again, due now, attempts reset.
    /// Returns how many.
    async fn retry_failed(&self, ids: &[i64], now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Marks a pending or failed row dropped (it will not be sent). False if there is no such
    /// row or it was already sent or dropped.
    async fn drop_row(&self, id: i64) -> Result<bool, StoreError>;
}

/// A fresh random idempotency key: 16 lowercase hex characters.
fn new_key() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

fn encode(m: &Message) -> Result<String, StoreError> {
    serde_json::to_string(m)
        .map_err(|e| StoreError::Invalid(format!("cannot encode a message: {e}")))
}

struct RowName(i64);

impl fmt::Display for RowName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "outbox row {}", self.0)
    }
}

const ROW_COLUMNS: &str = "id, key, dedup, channel, op, target, message, fallback, status, \
    attempts, next_attempt_at, last_error, delivery_ids, created_at, sent_at";

fn decode_row(r: &SqliteRow) -> Result<OutboxRow, StoreError> {
    let id: i64 = column(r, &"outbox row", "id")?;
    let what = RowName(id);
    let text = |name: &str| column::<String>(r, &what, name);
    let opt_text = |name: &str| column::<Option<String>>(r, &what, name);
    let message = |name: &str, json: &str| {
        serde_json::from_str::<Message>(json)
            .map_err(|e| StoreError::Corrupt(format!("{what}: {name}: {e}")))
    };
    let op = match text("op")?.as_str() {
        "post" => Op::Post,
        "edit" => Op::Edit {
            target: column::<Option<i64>>(r, &what, "target")?
                .ok_or_else(|| StoreError::Corrupt(format!("{what}: an edit without a target")))?,
        },
        other => return Err(StoreError::Corrupt(format!("{what}: unknown op {other:?}"))),
    };
    let status_text = text("status")?;
    let status = Status::parse(&status_text)
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: unknown status {status_text:?}")))?;
    let delivery_ids = match opt_text("delivery_ids")? {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("{what}: delivery_ids: {e}")))?,
        None => vec![],
    };
    Ok(OutboxRow {
        id,
        key: text("key")?,
        dedup: text("dedup")?,
        channel: text("channel")?,
        op,
        message: message("message", &text("message")?)?,
        fallback: opt_text("fallback")?
            .map(|f| message("fallback", &f))
            .transpose()?,
        status,
        attempts: column::<i64>(r, &what, "attempts")?.max(0) as u32,
        next_attempt_at: parse_timestamp(&what, "next_attempt_at", &text("next_attempt_at")?)?,
        last_error: opt_text("last_error")?,
        delivery_ids,
        created_at: parse_timestamp(&what, "created_at", &text("created_at")?)?,
        sent_at: opt_text("sent_at")?
            .map(|t| parse_timestamp(&what, "sent_at", &t))
            .transpose()?,
    })
}

/// Inserts a row unless its dedup exists; the new id, or None for a duplicate.
async fn insert(
    conn: &mut SqliteConnection,
    dedup: &str,
    channel: &str,
    op: Op,
    message: &Message,
    fallback: Option<&Message>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, StoreError> {
    let target = match op {
        Op::Post => None,
        Op::Edit { target } => Some(target),
    };
    let fallback = fallback.map(encode).transpose()?;
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO outbox (dedup, key, channel, op, target, message, fallback, status, \
         next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?8) \
         ON CONFLICT (dedup) DO NOTHING RETURNING id",
    )
    .bind(dedup)
    .bind(new_key())
    .bind(channel)
    .bind(op.as_str())
    .bind(target)
    .bind(encode(message)?)
    .bind(fallback)
    .bind(timestamp(now))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id)
}

/// Records which message (and line) announced each subject of a fired alert.
async fn record_alert_posts(
    conn: &mut SqliteConnection,
    id: i64,
    channel: &str,
    alert: &AlertPost,
) -> Result<(), StoreError> {
    for (i, subject) in alert.subjects.iter().enumerate() {
        let line = (i < alert.lined).then_some(i as i64);
        sqlx::query(
            "INSERT INTO alert_posts (rule, subject, channel, outbox_id, line, resolved) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0) ON CONFLICT (rule, subject, channel) DO UPDATE SET \
             outbox_id = excluded.outbox_id, line = excluded.line, resolved = 0",
        )
        .bind(&alert.rule)
        .bind(subject)
        .bind(channel)
        .bind(id)
        .bind(line)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Folds a resolution into the messages that announced it; returns the subjects no message
/// announced (those get a resolved notice), and counts into `report`.
async fn resolve(
    conn: &mut SqliteConnection,
    item: &Outgoing,
    alert: &AlertPost,
    now: DateTime<Utc>,
    report: &mut Enqueued,
) -> Result<Vec<String>, StoreError> {
    // Original message id → the (subject, line) pairs it announced.
    let mut originals: BTreeMap<i64, Vec<(String, Option<usize>)>> = BTreeMap::new();
    let mut unannounced = vec![];
    for subject in &alert.subjects {
        let found = sqlx::query(
            "UPDATE alert_posts SET resolved = 1 WHERE rule = ?1 AND subject = ?2 AND channel = ?3 \
             AND resolved = 0 RETURNING outbox_id, line",
        )
        .bind(&alert.rule)
        .bind(subject)
        .bind(&item.channel)
        .fetch_optional(&mut *conn)
        .await?;
        match found {
            Some(r) => {
                let id: i64 = r.try_get("outbox_id")?;
                let line: Option<i64> = r.try_get("line")?;
                originals
                    .entry(id)
                    .or_default()
                    .push((subject.clone(), line.map(|l| l.max(0) as usize)));
            }
            None => unannounced.push(subject.clone()),
        }
    }
    for (id, resolved) in originals {
        let Some(original) =
            sqlx::query(&format!("SELECT {ROW_COLUMNS} FROM outbox WHERE id = ?1"))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
        else {
            continue;
        };
        let original = decode_row(&original)?;
        if original.status == Status::Dropped {
            // It will never be sent: the resolution is said in a notice of its own.
            unannounced.extend(resolved.into_iter().map(|(s, _)| s));
            continue;
        }
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM alert_posts WHERE outbox_id = ?1 AND resolved = 0",
        )
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        let lines: Vec<usize> = resolved.iter().filter_map(|(_, l)| *l).collect();
        // An edit replaces the whole message: start from the latest edit queued for it, so
        // that lines resolved by earlier edits stay marked.
        let latest: Option<String> = sqlx::query_scalar(
            "SELECT message FROM outbox WHERE op = 'edit' AND target = ?1 ORDER BY id DESC LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let base = match latest {
            Some(json) => serde_json::from_str::<Message>(&json).map_err(|e| {
                StoreError::Corrupt(format!("an edit of outbox row {id}: message: {e}"))
            })?,
            None => original.message.clone(),
        };
        let updated = mark_resolved(&base, &lines, open == 0);
        if original.status == Status::Sent {
            let subjects: Vec<String> = resolved.into_iter().map(|(s, _)| s).collect();
            let notice = restrict(&item.message, alert, &subjects);
            let dedup = format!("{}|edit|{id}", item.dedup);
            match insert(
                conn,
                &dedup,
                &item.channel,
                Op::Edit { target: id },
                &updated,
                Some(&notice),
                now,
            )
            .await?
            {
                Some(_) => report.queued += 1,
                None => report.duplicates += 1,
            }
        } else {
            // Not sent yet (or failed, to be retried): it will be sent already resolved.
            sqlx::query("UPDATE outbox SET message = ?1 WHERE id = ?2")
                .bind(encode(&updated)?)
                .bind(id)
                .execute(&mut *conn)
                .await?;
            report.folded += 1;
        }
    }
    Ok(unannounced)
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(
        &self,
        states: &[(AlertKey, AlertState)],
        items: &[Outgoing],
        now: DateTime<Utc>,
    ) -> Result<Enqueued, StoreError> {
        let mut report = Enqueued::default();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        write_alert_states(&mut tx, states).await?;
        for item in items {
            let alert = item.alert.as_ref().filter(|a| a.can_edit);
            let message = match alert {
                Some(a) if a.event == Event::Resolved => {
                    let rest = resolve(&mut tx, item, a, now, &mut report).await?;
                    if rest.is_empty() {
                        continue;
                    }
                    restrict(&item.message, a, &rest)
                }
                _ => item.message.clone(),
            };
            match insert(
                &mut tx,
                &item.dedup,
                &item.channel,
                Op::Post,
                &message,
                None,
                now,
            )
            .await?
            {
                Some(id) => {
                    report.queued += 1;
                    if let Some(a) = alert.filter(|a| a.event == Event::Fired) {
                        record_alert_posts(&mut tx, id, &item.channel, a).await?;
                    }
                }
                None => report.duplicates += 1,
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn pending(&self) -> Result<Vec<OutboxRow>, StoreError> {
        self.outbox_rows(&[Status::Pending]).await
    }

    async fn outbox_row(&self, id: i64) -> Result<Option<OutboxRow>, StoreError> {
        let sql = format!("SELECT {ROW_COLUMNS} FROM outbox WHERE id = ?1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode_row).transpose()
    }

    async fn outbox_rows(&self, statuses: &[Status]) -> Result<Vec<OutboxRow>, StoreError> {
        let filter = if statuses.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = statuses
                .iter()
                .map(|s| format!("'{}'", s.as_str()))
                .collect();
            format!("WHERE status IN ({})", list.join(", "))
        };
        let sql = format!("SELECT {ROW_COLUMNS} FROM outbox {filter} ORDER BY id");
        let mut rows = sqlx::query(&sql).fetch(self.pool());
        let mut out = vec![];
        while let Some(r) = rows.try_next().await? {
            out.push(decode_row(&r)?);
        }
        Ok(out)
    }

    async fn mark_sent(
        &self,
        id: i64,
        delivery_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let ids = serde_json::to_string(delivery_ids)
            .map_err(|e| StoreError::Invalid(format!("cannot encode delivery ids: {e}")))?;
        sqlx::query(
            "UPDATE outbox SET status = 'sent', delivery_ids = ?1, sent_at = ?2, \
             attempts = attempts + 1, last_error = NULL WHERE id = ?3",
        )
        .bind(ids)
        .bind(timestamp(now))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn mark_attempt(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let (status, next) = match retry_at {
            Some(t) => ("pending", Some(timestamp(t))),
            None => ("failed", None),
        };
        sqlx::query(
            "UPDATE outbox SET status = ?1, attempts = attempts + 1, last_error = ?2, \
             next_attempt_at = coalesce(?3, next_attempt_at) WHERE id = ?4",
        )
        .bind(status)
        .bind(error)
        .bind(next)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn retry_failed(&self, ids: &[i64], now: DateTime<Utc>) -> Result<u64, StoreError> {
        let ids_json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_string());
        let done = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?1 \
             WHERE status = 'failed' AND (?2 = '[]' OR id IN (SELECT value FROM json_each(?2)))",
        )
        .bind(timestamp(now))
        .bind(ids_json)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    async fn drop_row(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'dropped' WHERE id = ?1 AND status IN ('pending', 'failed')",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
